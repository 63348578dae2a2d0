use orch::prelude::*;

#[orch_command(timeout = "2m", retries = 5, output = Receipt, target = "email-worker")]
#[derive(Serialize, Deserialize)]
struct SendEmailCommand {
    to: String,
}

#[derive(Serialize, Deserialize)]
struct Receipt {
    id: u64,
}

#[derive(Default)]
struct Mailer;

#[orch_handler]
impl Handler<SendEmailCommand> for Mailer {
    async fn run(&self, cmd: SendEmailCommand, _ctx: &Ctx) -> Result<Receipt, HandlerError> {
        let _ = cmd.to;
        Ok(Receipt { id: 1 })
    }
}

fn main() {
    assert_eq!(SendEmailCommand::NAME, "send_email");
    assert_eq!(SendEmailCommand::RETRIES, Some(5));
    assert!(!SendEmailCommand::has_chain());
}
