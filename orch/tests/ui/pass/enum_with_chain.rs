use orch::prelude::*;

#[orch_command(name = "billing.import")]
#[derive(Serialize, Deserialize)]
enum Import {
    Full,
    Since { day: u32 },
}

#[orch_command]
#[derive(Serialize, Deserialize)]
struct Reindex;

impl Chain for Import {
    fn on_success(&self, _output: &()) -> FollowUps {
        FollowUps::one(Reindex)
    }
}

fn main() {
    assert_eq!(Import::NAME, "billing.import");
    assert_eq!(Reindex::NAME, "reindex");
    assert!(Import::has_chain());
    let _ = Import::Since { day: 1 };
    let _ = Import::Full;
}
