use orch::prelude::*;

#[orch_command(name = "send_email", retries = 3, name = "email")]
#[derive(Serialize, Deserialize)]
struct SendEmail {
    to: String,
}

fn main() {
    let _ = SendEmail { to: String::new() };
}
