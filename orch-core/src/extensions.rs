//! [`Extensions`]: application state added on the builder and read by type in handlers.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::sync::Arc;

/// A map from type to one shared value of that type.
///
/// # Example
/// ```
/// use orch_core::Extensions;
/// struct Mailer { from: &'static str }
/// let mut ext = Extensions::new();
/// ext.insert(Mailer { from: "noreply@example.com" });
/// assert_eq!(ext.get::<Mailer>().unwrap().from, "noreply@example.com");
/// ```
#[derive(Default, Clone)]
pub struct Extensions {
    values: HashMap<TypeId, (Arc<dyn Any + Send + Sync>, &'static str)>,
}

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value, replacing any earlier value of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.values
            .insert(TypeId::of::<T>(), (Arc::new(value), type_name::<T>()));
    }

    /// The value of type `T`, if one was added.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.values
            .get(&TypeId::of::<T>())
            .and_then(|(value, _)| value.downcast_ref::<T>())
    }

    /// The type names of every value, for error messages.
    pub fn type_names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.values.values().map(|(_, name)| *name).collect();
        names.sort_unstable();
        names
    }
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.type_names()).finish()
    }
}
