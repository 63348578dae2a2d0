//! What `#[orch_command]` and `#[orch_handler]` expand to, seen through the `orch` facade:
//! default and explicit names, the generated constants, chain detection, and link-time
//! registration.

use std::time::Duration;

use orch::__private::{HandlerRegistration, inventory};
use orch::ChainEvent;
use orch::prelude::*;

#[orch_command]
#[derive(Serialize, Deserialize)]
struct SendEmailCommand {
    to: String,
}

#[orch_command]
#[derive(Serialize, Deserialize)]
struct HTTPRequestCommand {
    url: String,
}

#[orch_command]
#[derive(Serialize, Deserialize)]
struct GenerateReport;

#[orch_command]
#[derive(Serialize, Deserialize)]
struct Resize2xCommand;

#[orch_command]
#[derive(Serialize, Deserialize)]
enum ImportCommand {
    Full,
    Since { day: u32 },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Receipt {
    id: u64,
}

#[orch_command(
    name = "billing.charge",
    timeout = "1h30m",
    retries = 5,
    output = Receipt,
    target = "billing-worker"
)]
#[derive(Serialize, Deserialize)]
struct ChargeCard {
    cents: u64,
}

#[orch_command(timeout = "250ms", retries = 0)]
#[derive(Serialize, Deserialize)]
struct Quick;

#[test]
fn default_names() {
    assert_eq!(SendEmailCommand::NAME, "send_email");
    assert_eq!(HTTPRequestCommand::NAME, "http_request");
    assert_eq!(GenerateReport::NAME, "generate_report");
    assert_eq!(Resize2xCommand::NAME, "resize2x");
    assert_eq!(ImportCommand::NAME, "import");
}

#[test]
fn name_override() {
    assert_eq!(ChargeCard::NAME, "billing.charge");
}

#[test]
fn defaults_are_none() {
    assert_eq!(SendEmailCommand::TIMEOUT, None);
    assert_eq!(SendEmailCommand::RETRIES, None);
    assert_eq!(SendEmailCommand::TARGET, None);
    let unit: <SendEmailCommand as Command>::Output = ();
    assert_eq!(unit, ());
}

#[test]
fn explicit_constants() {
    assert_eq!(ChargeCard::TIMEOUT, Some(Duration::from_secs(90 * 60)));
    assert_eq!(ChargeCard::RETRIES, Some(5));
    assert_eq!(ChargeCard::TARGET, Some("billing-worker"));
    let output: <ChargeCard as Command>::Output = Receipt { id: 7 };
    assert_eq!(output, Receipt { id: 7 });

    assert_eq!(Quick::TIMEOUT, Some(Duration::from_millis(250)));
    assert_eq!(Quick::RETRIES, Some(0));
}

#[test]
fn the_item_is_unchanged() {
    let email = SendEmailCommand { to: "a@b".into() };
    let request = HTTPRequestCommand { url: "/".into() };
    assert_eq!((email.to.as_str(), request.url.as_str()), ("a@b", "/"));
    assert!(matches!(ImportCommand::Full, ImportCommand::Full));
    assert!(matches!(
        ImportCommand::Since { day: 3 },
        ImportCommand::Since { day: 3 }
    ));
    assert_eq!(ChargeCard { cents: 5 }.cents, 5);
}

/// A command with a chain: its follow-ups depend on the outcome.
#[orch_command(output = u32)]
#[derive(Serialize, Deserialize)]
struct Chained;

impl Chain for Chained {
    fn on_success(&self, output: &u32) -> FollowUps {
        (0..*output).map(|_| Quick).collect()
    }
    fn on_cancel(&self) -> FollowUps {
        FollowUps::one(GenerateReport)
    }
}

#[test]
fn chain_is_used_when_implemented() {
    assert!(Chained::has_chain());
    assert_eq!(Chained.follow_ups(ChainEvent::Success(&3)).len(), 3);
    assert_eq!(Chained.follow_ups(ChainEvent::Canceled).len(), 1);
}

#[test]
fn no_chain_means_no_follow_ups() {
    assert!(!ChargeCard::has_chain());
    let card = ChargeCard { cents: 1 };
    assert!(
        card.follow_ups(ChainEvent::Success(&Receipt { id: 1 }))
            .is_empty()
    );
    assert!(card.follow_ups(ChainEvent::Canceled).is_empty());
}

#[derive(Default)]
struct Mailer;

#[orch_handler]
impl Handler<SendEmailCommand> for Mailer {
    async fn run(&self, _cmd: SendEmailCommand, _ctx: &Ctx) -> Result<(), HandlerError> {
        Ok(())
    }
}

#[derive(Default)]
struct Biller {
    next_id: u64,
}

#[orch_handler]
impl orch::Handler<ChargeCard> for Biller {
    async fn run(&self, _cmd: ChargeCard, _ctx: &Ctx) -> Result<Receipt, HandlerError> {
        Ok(Receipt { id: self.next_id })
    }
}

/// `HandlerRegistration` has no public accessors, so this counts registrations; the
/// engine tests check that the registry actually runs them.
#[test]
fn handlers_are_registered_at_link_time() {
    let registered = inventory::iter::<HandlerRegistration>.into_iter().count();
    assert!(registered >= 2, "{registered} registrations");
}
