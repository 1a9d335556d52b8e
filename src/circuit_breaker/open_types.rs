//! The error types that can carry an open circuit's rejection, for readers that see an error only
//! as `&dyn Any` (the retry's default hint).
//!
//! `&dyn Any` cannot look inside a generic type such as `bulwark::Error<E>` without knowing `E`. So the code that turns a rejection into such an error
//! (the rejection path only: nothing on the success path) registers the concrete type once, with a
//! function that downcasts to it and returns the [`CircuitOpen`] inside. A thread remembers the
//! last few types it registered, so a rejection costs a thread-local lookup after the first.

use super::CircuitOpen;
use std::any::{Any, TypeId};
use std::cell::Cell;
use std::sync::{PoisonError, RwLock};

/// Finds the rejection in an error known to be of the registered type.
pub(crate) type OpenOf = fn(&dyn Any) -> Option<&CircuitOpen>;

static TYPES: RwLock<Vec<(TypeId, OpenOf)>> = RwLock::new(Vec::new());

thread_local! {
    static SEEN: Cell<[Option<TypeId>; 4]> = const { Cell::new([None; 4]) };
}

/// Notes that errors of type `X` may hold a rejection, which `open_of` finds.
pub(crate) fn register<X: Any>(open_of: OpenOf) {
    let id = TypeId::of::<X>();
    if SEEN
        .try_with(|seen| seen.get().contains(&Some(id)))
        .unwrap_or(false)
    {
        return;
    }
    {
        let mut types = TYPES.write().unwrap_or_else(PoisonError::into_inner);
        if !types.iter().any(|(t, _)| *t == id) {
            types.push((id, open_of));
        }
    }
    let _ = SEEN.try_with(|seen| {
        let mut ids = seen.get();
        ids.rotate_right(1);
        ids[0] = Some(id);
        seen.set(ids);
    });
}

/// The rejection inside `error`, if its type was registered and it holds one.
pub(crate) fn open_in(error: &dyn Any) -> Option<&CircuitOpen> {
    let id = error.type_id();
    let open_of = {
        let types = TYPES.read().unwrap_or_else(PoisonError::into_inner);
        types.iter().find(|(t, _)| *t == id).map(|(_, f)| *f)?
    };
    open_of(error)
}
