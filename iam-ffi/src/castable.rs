//! [`Castable`]: how each opaque C handle type maps to the Rust value behind it and how C owns
//! that value. Each handle type implements it beside its own definition; every conversion of a
//! handle pointer (borrowing it, handing a new one out, taking one back and freeing it) goes
//! through the generic helpers here, which check for NULL, so a handle can only be read as its own
//! Rust type and freed the way it was handed out.
//!
//! This module knows errors and the panic boundary's fallbacks only, never a handle type.

/// Marks a handle that C holds as a `Box` of its Rust type: made by [`set_boxed_mut_ptr`],
/// freed once by [`free_box`] or taken back by [`try_box_from_ptr`].
pub(crate) struct OwnershipBox;

/// How C holds a handle. Only [`OwnershipBox`] is needed so far; a shared (`Arc`) or borrowed
/// (`&`) handle would add a marker of its own, with helpers bound to it.
pub(crate) trait OwnershipMarker {}

impl OwnershipMarker for OwnershipBox {}

/// Ties a C handle type (an opaque `iam_*_t`) to the Rust type behind it and to how C owns it.
/// Being an associated type, the ownership is fixed once per handle type, and the helpers that
/// allocate or free accept only handles of the matching ownership.
pub(crate) trait Castable {
    /// How C holds the value.
    type Ownership: OwnershipMarker;
    /// The Rust value a handle pointer points to.
    type RustType;
}

/// A borrowed handle as its Rust value, or `None` when `ptr` is NULL.
///
/// # Safety
/// `ptr` must be NULL or a handle of type `C` handed out by iam, live and not mutated for `'a`.
pub(crate) unsafe fn try_from<'a, C: Castable>(ptr: *const C) -> Option<&'a C::RustType> {
    // SAFETY: a handle of type `C` points to a `C::RustType` (it was made from one by
    // `set_boxed_mut_ptr`), live for `'a` as the caller promises.
    unsafe { ptr.cast::<C::RustType>().as_ref() }
}

/// Borrows the handle behind a pointer argument, or leaves the body with
/// [`NullParameterOrDefault`](crate::boundary::NullParameterOrDefault) when it is NULL: an error
/// naming the argument in a status-returning body, NULL, 0 or false in a getter.
///
/// Use only on a pointer argument of an exported function whose `# Safety` section promises it is
/// NULL or a live handle of its type, and say so in a `// SAFETY:` comment at the call.
macro_rules! try_ref_from_ptr {
    ( $var:ident ) => {
        // SAFETY: the exported function's caller promises `$var` is NULL or a live handle of its
        // type (see the call site).
        match unsafe { $crate::castable::try_from($var) } {
            Some(value) => value,
            None => return $crate::boundary::NullParameterOrDefault::value(stringify!($var)),
        }
    };
}
pub(crate) use try_ref_from_ptr;

/// Hands `value` to the caller as a new handle through `out`; the handle's own `*_free`
/// function gives it back.
pub(crate) fn set_boxed_mut_ptr<C>(out: &mut *mut C, value: C::RustType)
where
    C: Castable<Ownership = OwnershipBox>,
{
    *out = Box::into_raw(Box::new(value)).cast::<C>();
}

/// Takes a handle back from the caller: the value the caller's pointer `*slot` held, which is set
/// to NULL. `None` when `slot` or `*slot` is NULL, so taking twice through the same variable
/// yields nothing the second time.
///
/// # Safety
/// `slot` must be NULL or point to a writable pointer that is NULL or a handle of type `C` made by
/// [`set_boxed_mut_ptr`], not taken back through another copy.
pub(crate) unsafe fn try_box_from_ptr<C>(slot: *mut *mut C) -> Option<Box<C::RustType>>
where
    C: Castable<Ownership = OwnershipBox>,
{
    // SAFETY: the caller promises `slot` is NULL or valid and writable.
    let slot = unsafe { slot.as_mut() }?;
    let ptr = std::mem::replace(slot, std::ptr::null_mut());
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` came from `Box::into_raw` of a `C::RustType` in `set_boxed_mut_ptr`, and the
    // caller's pointer no longer holds it, so it is taken back only here, once.
    Some(unsafe { Box::from_raw(ptr.cast::<C::RustType>()) })
}

/// Frees a handle and sets the caller's pointer to NULL, as [`try_box_from_ptr`] then drop.
///
/// # Safety
/// As [`try_box_from_ptr`].
pub(crate) unsafe fn free_box<C>(slot: *mut *mut C)
where
    C: Castable<Ownership = OwnershipBox>,
{
    // SAFETY: forwarded from the caller.
    drop(unsafe { try_box_from_ptr(slot) });
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::error::FfiError;

    /// A handle type for the tests.
    #[allow(non_camel_case_types)]
    struct probe_t {
        _private: [u8; 0],
    }

    impl Castable for probe_t {
        type Ownership = OwnershipBox;
        type RustType = String;
    }

    /// A getter over [`probe_t`]: its length, 0 for NULL.
    fn probe_len(probe: *const probe_t) -> usize {
        // SAFETY: the tests pass NULL or a live probe.
        try_ref_from_ptr!(probe).len()
    }

    /// A status body over [`probe_t`].
    fn probe_check(probe: *const probe_t) -> Result<(), FfiError> {
        // SAFETY: the tests pass NULL or a live probe.
        let _ = try_ref_from_ptr!(probe);
        Ok(())
    }

    #[test]
    fn handles_are_borrowed_and_freed_through_their_rust_type() {
        let mut p: *mut probe_t = ptr::null_mut();
        set_boxed_mut_ptr(&mut p, "five!".to_owned());
        assert_eq!(probe_len(p), 5);
        assert!(probe_check(p).is_ok());
        // SAFETY: `p` came from `set_boxed_mut_ptr` and is freed once; later calls see NULL.
        unsafe {
            free_box(&raw mut p);
            assert!(p.is_null());
            free_box(&raw mut p);
            free_box::<probe_t>(ptr::null_mut());
            assert!(try_box_from_ptr(&raw mut p).is_none());
        }
    }

    #[test]
    fn null_handles_default_or_name_the_argument() {
        assert_eq!(probe_len(ptr::null()), 0);
        assert!(matches!(
            probe_check(ptr::null()),
            Err(FfiError::NullParameter("probe"))
        ));
    }
}
