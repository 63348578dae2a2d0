use orch::prelude::*;

#[derive(Default)]
#[orch_handler]
struct Mailer;

fn main() {
    let _ = Mailer;
}
