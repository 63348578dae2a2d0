use orch::prelude::*;

#[orch_command]
#[derive(Serialize, Deserialize)]
struct SendEmail {
    to: String,
}

#[derive(Default)]
struct Mailer;

#[orch_handler]
impl Handler for Mailer {
    async fn run(&self, cmd: SendEmail, _ctx: &Ctx) -> Result<(), HandlerError> {
        let _ = cmd.to;
        Ok(())
    }
}

fn main() {}
