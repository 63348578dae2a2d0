//! The [`Registry`]: every command name this process can run, built once at start from the
//! link-time registrations (`#[orch_handler]`) and the builder's explicit ones.

mod erased;
mod registration;

use std::collections::HashMap;
use std::sync::Arc;

pub(crate) use erased::{DynHandler, RunOutcome, Terminal};
pub(crate) use registration::ExplicitHandler;
pub use registration::{CommandInfo, HandlerRegistration};

use crate::error::ConfigError;

/// One runnable command name.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) command: CommandInfo,
    pub(crate) handler_type: &'static str,
    pub(crate) handler: Arc<dyn DynHandler>,
}

/// Every command name this process has a handler for.
#[derive(Clone, Default)]
pub struct Registry {
    entries: HashMap<&'static str, Entry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl Registry {
    /// Builds the registry from the link-time registrations plus `explicit` ones.
    ///
    /// An explicit handler replaces a link-time one for the same command type. Two command
    /// types with one name, or two link-time handlers for one command, are errors naming
    /// both types.
    pub(crate) fn build(
        link_time: bool,
        explicit: Vec<ExplicitHandler>,
    ) -> Result<Self, ConfigError> {
        let mut registry = Self::default();
        let mut explicit_names = Vec::new();
        for reg in explicit {
            explicit_names.push(reg.command.name);
            registry.add(
                Entry {
                    command: reg.command,
                    handler_type: reg.handler_type,
                    handler: reg.handler,
                },
                false,
            )?;
        }
        if link_time {
            for reg in inventory::iter::<HandlerRegistration> {
                if explicit_names.contains(&reg.command.name)
                    && registry.entries[reg.command.name].command.type_name()
                        == reg.command.type_name()
                {
                    continue;
                }
                registry.add(
                    Entry {
                        command: reg.command,
                        handler_type: (reg.handler_type)(),
                        handler: (reg.build)(),
                    },
                    true,
                )?;
            }
        }
        Ok(registry)
    }

    fn add(&mut self, entry: Entry, link_time: bool) -> Result<(), ConfigError> {
        if let Some(existing) = self.entries.get(entry.command.name) {
            let (a, b) = (existing.command.type_name(), entry.command.type_name());
            return Err(if a == b {
                ConfigError::DuplicateHandler {
                    name: entry.command.name,
                    command: a,
                    first: existing.handler_type,
                    second: entry.handler_type,
                    link_time,
                }
            } else {
                ConfigError::DuplicateName {
                    name: entry.command.name,
                    first: a,
                    second: b,
                }
            });
        }
        self.entries.insert(entry.command.name, entry);
        Ok(())
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.entries.keys().copied().collect();
        names.sort_unstable();
        names
    }

    /// Whether `name` has a handler here.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The command description for `name`.
    pub fn command(&self, name: &str) -> Option<&CommandInfo> {
        self.entries.get(name).map(|e| &e.command)
    }

    pub(crate) fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }
}
