//! Peak memory of one call: a global allocator that counts, per thread, the bytes live and
//! the most live at once. A fuzz test binary installs it (`#[global_allocator]`) and
//! measures each input with [`peak_during`]; the harness then holds the peak to a bound
//! linear in the input's size, which a quadratic copy or an unbounded expansion breaks.
//!
//! Per thread, because the test harness runs tests on several threads at once; a call's
//! work stays on the thread that makes it. A block freed on another thread than the one
//! that allocated it only lowers that thread's count (saturating at 0), which can only
//! understate a later peak there, never fail a test wrongly.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The counting allocator: [`System`] with per-thread counts.
pub struct Counting;

thread_local! {
    // Const-initialised cells of plain integers: no destructor, no allocation, so the
    // allocator may touch them at any point of a thread's life.
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grow(bytes: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(bytes);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrink(bytes: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(bytes)));
}

// SAFETY: every call is passed to `System` unchanged; the counting touches no memory it
// returns.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Both blocks may be live while the old one is copied: count the new one first.
            grow(new_size);
            shrink(layout.size());
        }
        p
    }
}

/// Restores the caller's peak when a measured call ends, by return or by panic.
struct Outer(usize);

impl Drop for Outer {
    fn drop(&mut self) {
        PEAK.with(|p| p.set(p.get().max(self.0)));
    }
}

/// `f()` and the most bytes it had allocated at once beyond what was live before it.
///
/// # Panics
///
/// When [`Counting`] is not the global allocator (nothing would be counted).
pub fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = LIVE.with(Cell::get);
    let probe = std::hint::black_box(vec![0u8; 64]);
    assert!(
        LIVE.with(Cell::get) >= before + 64,
        "install tests/common/fuzz/alloc.rs's Counting as the #[global_allocator]"
    );
    drop(probe);
    let start = LIVE.with(Cell::get);
    let outer = Outer(PEAK.with(|p| p.replace(start)));
    let r = f();
    let peak = PEAK.with(Cell::get).saturating_sub(start);
    drop(outer);
    (r, peak)
}
