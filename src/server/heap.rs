//! Giving freed memory back to the system. glibc's malloc keeps what was
//! freed in its arenas for reuse; after the logs of many sandboxes were
//! freed, a server would otherwise stay at its peak size for good.

/// Return the free pages of every malloc arena to the system. It walks the
/// whole heap, so call it after freeing much, not after every free.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it only works on malloc's own
    // free lists, under malloc's own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
