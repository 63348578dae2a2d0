use orch::prelude::*;

#[orch_command(timeout = "0s")]
#[derive(Serialize, Deserialize)]
struct SendEmail {
    to: String,
}

fn main() {
    let _ = SendEmail { to: String::new() };
}
