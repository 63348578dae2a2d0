use orch::prelude::*;

#[derive(Default)]
struct Mailer;

#[orch_handler]
impl Mailer {
    fn send(&self) {}
}

fn main() {
    Mailer.send();
}
