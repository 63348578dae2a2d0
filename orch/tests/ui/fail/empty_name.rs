use orch::prelude::*;

#[orch_command(name = "")]
#[derive(Serialize, Deserialize)]
struct SendEmail {
    to: String,
}

fn main() {
    let _ = SendEmail { to: String::new() };
}
