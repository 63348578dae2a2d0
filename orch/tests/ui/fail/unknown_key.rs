use orch::prelude::*;

#[orch_command(timeout = "30s", retry = 3)]
#[derive(Serialize, Deserialize)]
struct SendEmail {
    to: String,
}

fn main() {
    // The item and its `impl Command` are still emitted: no errors here.
    let _ = SendEmail { to: String::new() };
    let _ = SendEmail::NAME;
}
