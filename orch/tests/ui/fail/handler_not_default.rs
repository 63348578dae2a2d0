use orch::prelude::*;

#[orch_command]
#[derive(Serialize, Deserialize)]
struct SendEmail {
    to: String,
}

struct Mailer {
    from: String,
}

#[orch_handler]
impl Handler<SendEmail> for Mailer {
    async fn run(&self, cmd: SendEmail, _ctx: &Ctx) -> Result<(), HandlerError> {
        let _ = (&self.from, cmd.to);
        Ok(())
    }
}

fn main() {
    let _ = Mailer {
        from: String::new(),
    };
}
