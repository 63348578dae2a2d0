//! [`Harness`]: one test's backend, and helpers to build nodes on it and move its clock.

use std::sync::Arc;

use orch::internal::store::Store;
use orch::{CommandId, CommandStatus};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::backend::SuiteBackend;
use crate::node::{Node, NodeBuilder};

/// One test's backend (a fresh database), as the suite sees it.
pub struct Harness<B: SuiteBackend> {
    backend: B,
    client: OnceCell<Node<B::Tx>>,
}

/// A node's engine running in a background task.
pub struct Running<Tx: ?Sized + 'static> {
    /// The node.
    pub node: Node<Tx>,
    stop: CancellationToken,
    task: JoinHandle<orch::Result<()>>,
}

impl<Tx: ?Sized + Send + Sync + 'static> Running<Tx> {
    /// Stops the engine gracefully and waits for it.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task
            .await
            .expect("engine task panicked")
            .expect("engine failed");
    }
}

impl<B: SuiteBackend> Harness<B> {
    /// A harness on `backend`.
    pub fn new(backend: B) -> Self {
        Self {
            backend,
            client: OnceCell::new(),
        }
    }

    /// The backend under test.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// A node builder on this backend with test-friendly timings and no link-time handlers.
    pub fn builder(&self) -> NodeBuilder<'_, B> {
        NodeBuilder::new(self)
    }

    /// A node running `handler` for `C`, with `ledger` as state.
    pub async fn engine<C: orch::Command, H: orch::Handler<C>>(
        &self,
        handler: H,
        ledger: &Arc<crate::commands::Ledger>,
    ) -> Node<B::Tx> {
        self.builder()
            .state(ledger.clone())
            .handler::<C, H>(handler)
            .build()
            .await
            .expect("build engine")
    }

    /// A node with no handlers, for pushing and reading (one per harness).
    pub async fn client(&self) -> Node<B::Tx> {
        self.client
            .get_or_init(|| async { self.builder().build().await.expect("build client") })
            .await
            .clone()
    }

    /// The storage seam on this backend, for tests that drive transitions by hand.
    pub async fn store(&self) -> Arc<dyn Store<Tx = B::Tx>> {
        self.backend.store().await
    }

    /// Starts `node`'s engine in a background task.
    pub fn start(&self, node: &Node<B::Tx>) -> Running<B::Tx> {
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let (node, stop) = (node.clone(), stop.clone());
            async move { node.run(stop).await }
        });
        Running {
            node: node.clone(),
            stop,
            task,
        }
    }

    /// How many commands have `status`.
    pub async fn count(&self, status: CommandStatus) -> i64 {
        self.backend.count(status).await
    }

    /// Moves a command's lease expiry into the past, as if its worker had died long ago.
    pub async fn expire_lease(&self, id: CommandId) {
        self.backend.expire_lease(id).await;
    }

    /// Makes a scheduled command due now.
    pub async fn make_due(&self, id: CommandId) {
        self.backend.make_due(id).await;
    }

    /// A second process on this test's database (see [`SuiteBackend::worker`]).
    pub fn worker(&self, args: &[&str]) -> tokio::process::Command {
        self.backend.worker(args)
    }

    /// Drops the database.
    pub async fn cleanup(self) {
        self.backend.cleanup().await;
    }
}
