use orch::prelude::*;

#[orch_command(retries = "5")]
#[derive(Serialize, Deserialize)]
struct SendEmail {
    to: String,
}

fn main() {
    let _ = SendEmail { to: String::new() };
}
