//! The inbox on embedded SQLite: a broker may deliver a message more than once; the
//! inbox makes its effect happen once. Here one payment message arrives five times at
//! once, and once more with a different body under the same id.
//!
//! Run: `cargo run -p inbox`

use orch::Orch;
use orch::inbox::{InboxError, Processed};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, Statement};

/// The effect: credit the account, in the inbox's transaction.
async fn credit(txn: &DatabaseTransaction, cents: i64) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "UPDATE accounts SET balance_cents = balance_cents + ? WHERE id = 1",
        [cents.into()],
    ))
    .await
    .map(drop)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let orch = Orch::builder()
        .database("sqlite://inbox-example.db?mode=rwc")
        .build()
        .await?;
    let db = orch.connection();
    db.execute_unprepared("DROP TABLE IF EXISTS accounts")
        .await?;
    db.execute_unprepared("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance_cents INTEGER)")
        .await?;
    db.execute_unprepared("INSERT INTO accounts VALUES (1, 0)")
        .await?;
    let message_id = format!("payment-{}", std::process::id());
    let payload = br#"{"account":1,"cents":2500}"#;

    // Five deliveries of one message, at once.
    let deliveries: Vec<_> = (0..5)
        .map(|_| {
            let (inbox, message_id) = (orch.inbox(), message_id.clone());
            tokio::spawn(async move {
                inbox
                    .process_once("payments", &message_id, payload, |txn| {
                        Box::pin(credit(txn, 2500))
                    })
                    .await
            })
        })
        .collect();
    let mut ran = 0;
    for delivery in deliveries {
        if let Processed::Done(()) = delivery.await?? {
            ran += 1;
        }
    }
    // The same id with another body is a conflict, never a silent duplicate.
    let conflict = orch
        .inbox()
        .process_once(
            "payments",
            &message_id,
            br#"{"account":1,"cents":9999}"#,
            |txn| Box::pin(credit(txn, 9999)),
        )
        .await;
    assert!(matches!(conflict, Err(InboxError::Conflict { .. })));

    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT balance_cents FROM accounts WHERE id = 1",
        ))
        .await?
        .ok_or("no account")?;
    let balance: i64 = row.try_get_by_index(0)?;
    let entry = orch
        .inbox()
        .get("payments", &message_id)
        .await?
        .ok_or("not recorded")?;
    #[allow(clippy::print_stdout, reason = "an example reports what it did")]
    {
        println!("5 deliveries, handler ran {ran} time(s), balance {balance} cents");
        println!(
            "inbox entry: status {}, attempts {}",
            entry.status, entry.attempts
        );
    }
    assert_eq!((ran, balance), (1, 2500));
    let _ = std::fs::remove_file("inbox-example.db");
    Ok(())
}
