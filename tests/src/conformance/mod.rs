//! The behaviours, one file per area, and the macro that stamps them per backend.

pub mod attempts;
pub mod bad_input;
pub mod cancel;
pub mod chaining;
pub mod concurrency;
pub mod crash;
pub mod cron;
pub mod health;
pub mod leader;
pub mod lease;
pub mod locks;
pub mod push;
pub mod push_properties;
pub mod retry;
pub mod routing;
pub mod runaway;
pub mod shutdown;
pub mod timers;
pub mod wakeups;
pub mod work_queue;

use std::sync::Arc;
use std::time::Duration;

use crate::commands::Ledger;

/// The usual deadline for a command to reach a state.
pub const SOON: Duration = Duration::from_secs(20);

/// A fresh ledger shared by a test and its engines.
pub fn ledger() -> Arc<Ledger> {
    Arc::new(Ledger::default())
}

/// Stamps one `#[tokio::test]` per behaviour for the backend `$make` (an expression
/// giving a future of a [`crate::SuiteBackend`], evaluated afresh for each test).
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_tests!($make; conformance;
            push::push_and_get,
            push::run_and_read_output,
            push::push_many_in_one_batch,
            push::idempotency_key_dedups,
            push::scheduled_command_waits_for_its_time,
            push::database_clock_decides,
            retry::fails_once_then_succeeds,
            retry::exhausted_retries_end_dead_with_errors,
            retry::fatal_error_is_not_retried,
            retry::timeout_is_a_failed_attempt,
            retry::panic_is_a_failed_attempt,
            retry::backoff_is_per_command,
            chaining::follow_ups_exist_exactly_once,
            chaining::follow_up_starts_without_waiting_for_a_poll,
            wakeups::push_from_elsewhere_starts_without_waiting_for_a_poll,
            attempts::follow_ups_belong_to_the_attempt_holding_the_lease,
            attempts::on_failure_follow_ups_survive_a_reaper_without_the_handler,
            cancel::cancel_pending_adds_on_cancel_follow_ups,
            cancel::cancel_running_fires_the_token,
            cancel::cancel_finished_changes_nothing,
            cancel::on_cancel_follow_ups_survive_a_canceller_without_the_handler,
            lease::reaper_recovers_expired_lease,
            lease::stale_completion_is_rejected,
            lease::heartbeat_keeps_long_commands,
            lease::lease_lost_stops_the_handler,
            crash::killed_worker_process_is_recovered,
            routing::targets_route_commands,
            routing::unknown_names_stay_pending,
            bad_input::undecodable_payload_dies_without_retry,
            bad_input::oversized_payload_is_refused,
            bad_input::duplicate_names_fail_at_start,
            bad_input::bad_push_options_are_refused,
            push_properties::push_options_are_refused_or_stored_exactly,
            bad_input::large_outputs_are_bounded,
            shutdown::shutdown_releases_running_commands,
            concurrency::two_engines_ten_thousand_commands_exactly_once,
            locks::lock_excludes_and_tokens_increase,
            locks::bad_lock_names_are_refused,
            locks::canceled_acquire_leaves_the_lock_free,
            locks::lock_excludes_fifty_tasks_in_two_processes,
            locks::killed_holder_frees_the_lock,
            locks::held_lock_outlives_its_ttl,
            leader::one_leader_and_a_successor,
            leader::killed_leader_is_replaced,
            timers::timer_fires_once_at_its_time,
            timers::timers_are_listed_and_called_off,
            timers::started_timer_is_not_called_off,
            health::health_reports_database_engine_and_queues,
            runaway::blocking_handler_is_recorded_timed_out,
            runaway::self_cancelled_handler_is_recorded,
            runaway::panicking_callbacks_do_not_stop_the_engine,
            cron::cron_upsert_is_idempotent_and_validates,
            cron::cron_job_runs_every_fire_time_once,
            cron::cron_misfire_policies,
            cron::cron_overlap_and_manual_runs,
            cron::cron_survives_a_killed_leader,
            cron::cron_history_is_pruned,
            work_queue::command_queue_fences_owners,
            work_queue::command_queue_fifty_claimers_in_two_processes,
        );
    };
}

/// Stamps what only orch-sea has (migrations, prefixes, sea-orm transactions) for
/// `$make`, a future of a [`crate::sea::SeaBackend`].
#[macro_export]
macro_rules! sea_suite {
    ($make:expr) => {
        $crate::conformance_tests!($make; sea;
            schema::migrations_are_idempotent_and_concurrent,
            schema::table_prefixes_isolate,
            schema::invalid_table_prefix_is_a_config_error,
            schema::interrupted_migration_is_completed,
            keys::keys_names_and_targets_compare_byte_for_byte,
            keys::duplicate_key_in_an_older_snapshot_finds_the_real_row,
            unreadable::unreadable_rows_are_reported_and_skipped,
            unreadable::undecodable_claimed_rows_are_recorded_dead,
            transactions::push_in_commits_with_the_transaction,
            transactions::schedule_in_commits_with_the_transaction,
            transactions::push_in_starts_when_the_transaction_commits,
            locks::lock_names_are_per_prefix,
            cron::declared_cron_jobs_are_reconciled,
            outbox::outbox_enqueue_in_commits_with_the_transaction,
            outbox::outbox_relay_delivers_in_order_per_key,
            outbox::outbox_failures_retry_then_dead_and_redrive,
            outbox::outbox_bad_input_is_refused,
            outbox::outbox_work_queue_fences_owners,
            outbox::outbox_fifty_claimers_in_two_processes,
            outbox::unit_of_work_writes_events_on_commit,
            inbox::inbox_process_once_exactly_once,
            inbox::inbox_conflicts_failures_and_steps,
            refusals::refused_results_are_isolated,
            refusals::reaper_skips_rows_it_cannot_move,
            refusals::slow_database_stops_claims,
            refusals::push_many_is_all_or_nothing,
            refusals::concurrent_pushes_keep_their_own_outcome,
            claim_cost::claims_read_no_unserved_rows,
            claim_cost::claims_read_no_whole_table_once_analyzed,
            finish_cost::finishes_read_their_rows_alone_once_analyzed,
            finish_cost::a_large_finish_reads_its_rows_alone,
            delete_succeeded::succeeded_commands_are_deleted,
            delete_succeeded::deleting_keeps_the_fences,
            serialized_claims::engines_taking_turns_run_each_command_once,
            serialized_claims::a_hostile_instance_key_stays_a_value_in_turns,
            serialized_claims::first_turns_taken_at_once_all_succeed,
            write_turns::claims_and_finishes_of_one_store_take_turns,
            claim_marks::a_row_behind_full_claims_is_claimed_by_a_sweep,
            claim_marks::a_claim_short_of_its_limit_takes_rows_behind_the_last_at_once,
            claim_marks::a_push_in_committed_late_starts_at_once,
            claim_marks::an_overdue_push_starts_at_once,
        );
    };
}

/// Stamps what needs a database server (PostgreSQL, MariaDB) for `$make`, a future of a
/// [`crate::sea::SeaBackend`].
#[macro_export]
macro_rules! server_suite {
    ($make:expr) => {
        $crate::conformance_tests!($make; sea;
            connection::database_goes_away_mid_run,
            connection::idle_connections_killed_cost_no_push,
            locks::lock_dies_with_its_connection,
            health::health_when_the_database_is_gone,
            partition::partitioned_engine_fences_itself,
            serialized_claims::a_claimer_cut_off_in_its_turn_stalls_the_others_briefly,
            timeouts::statements_and_lock_waits_are_bounded,
            claim_cost::open_claim_blocks_no_push_nor_other_target,
        );
    };
}

/// Stamps the listed tests (`$folder::module::function`) for one backend.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr; $folder:ident; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::run($make, |h| Box::pin($crate::$folder::$module::$name(h))).await;
            }
        )*
    };
}
