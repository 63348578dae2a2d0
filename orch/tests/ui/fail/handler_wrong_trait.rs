use orch::prelude::*;

#[derive(Default)]
struct Mailer;

#[orch_handler]
impl Clone for Mailer {
    fn clone(&self) -> Self {
        Mailer
    }
}

fn main() {
    let _ = Mailer.clone();
}
