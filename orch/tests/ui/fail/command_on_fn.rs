use orch::prelude::*;

#[orch_command]
fn send_email() {}

fn main() {
    send_email();
}
