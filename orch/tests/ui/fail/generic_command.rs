use orch::prelude::*;

#[orch_command]
#[derive(Serialize, Deserialize)]
struct Wrap<T> {
    inner: T,
}

fn main() {
    let _ = Wrap { inner: 1 };
}
