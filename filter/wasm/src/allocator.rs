//! The module's allocator: blocks of up to 1 KiB come from free lists, one per size class, in
//! front of the system allocator (wasi-libc's dlmalloc), which serves larger blocks and refills
//! the lists. A request allocates dozens of small blocks (header pairs, the audit record, claims
//! looked up) and frees them before the next: a free list hands each back in a few instructions,
//! where dlmalloc's bins and chunk headers cost several times more per call in wasm.
//!
//! Blocks on a free list are kept for their class, never returned: the memory a class holds is
//! bounded by the most of that class ever live at once. The module is single-threaded (wasm32
//! without threads; one instance per worker), so the lists need no synchronisation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr;

/// Block sizes, in bytes. Each class is a quarter to a half larger than the one below it, so a
/// block above 16 bytes loses at most a third of itself to rounding (dlmalloc's minimum chunk is
/// 16 bytes too).
const CLASSES: [usize; 19] = [
    8, 16, 24, 32, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, 896, 1024,
];
/// The largest alignment a class block honours (every class size is a multiple of 8, and every
/// block comes from the system allocator with this alignment).
const CLASS_ALIGN: usize = 8;

pub(crate) struct Classes {
    /// The first free block of each class; a free block's first word points to the next.
    heads: [Cell<*mut u8>; CLASSES.len()],
}

// SAFETY: wasm32-wasip1 modules run single-threaded (no shared memory, no threads), so the cells
// are never touched from two threads.
unsafe impl Sync for Classes {}

impl Classes {
    pub(crate) const fn new() -> Classes {
        Classes {
            heads: [const { Cell::new(ptr::null_mut()) }; CLASSES.len()],
        }
    }
}

/// The largest block a class serves.
const LARGEST: usize = CLASSES[CLASSES.len() - 1];

/// The class of each size, in steps of 8 bytes: `CLASS_OF[(size + 7) / 8]`.
const CLASS_OF: [u8; LARGEST / 8 + 1] = {
    let mut table = [0u8; LARGEST / 8 + 1];
    let mut step = 0;
    let mut class = 0;
    while step < table.len() {
        while CLASSES[class] < step * 8 {
            class += 1;
        }
        table[step] = class as u8;
        step += 1;
    }
    table
};

/// The class serving `layout`, if any.
fn class(layout: Layout) -> Option<usize> {
    if layout.align() > CLASS_ALIGN {
        return None;
    }
    CLASS_OF
        .get(layout.size().div_ceil(8))
        .map(|&class| usize::from(class))
}

fn class_layout(class: usize) -> Option<Layout> {
    let size = *CLASSES.get(class)?;
    Layout::from_size_align(size, CLASS_ALIGN).ok()
}

// SAFETY: every block handed out is either a system block for the caller's own layout, or a
// class block: a system block of the class's size (at least the layout's) and alignment (at least
// the layout's), which `dealloc` and `realloc` recognise by the same `class(layout)` the caller's
// layout gave at allocation, as `GlobalAlloc` requires callers to pass the same layout back.
unsafe impl GlobalAlloc for Classes {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout) else {
            // SAFETY: forwarded with the caller's non-zero-size layout.
            return unsafe { System.alloc(layout) };
        };
        let (Some(head), Some(block_layout)) = (self.heads.get(c), class_layout(c)) else {
            return ptr::null_mut();
        };
        let block = head.get();
        if block.is_null() {
            // SAFETY: a non-zero size and a valid alignment.
            return unsafe { System.alloc(block_layout) };
        }
        // SAFETY: a block on a free list holds the next block's address in its first word
        // (written by `dealloc`; blocks are at least 8 bytes and 8-aligned).
        head.set(unsafe { block.cast::<*mut u8>().read() });
        block
    }

    #[inline(never)]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(head) = class(layout).and_then(|c| self.heads.get(c)) else {
            // SAFETY: a system block allocated with this very layout.
            return unsafe { System.dealloc(block, layout) };
        };
        // SAFETY: the block is a class block no longer in use: at least 8 bytes, 8-aligned.
        unsafe { block.cast::<*mut u8>().write(head.get()) };
        head.set(block);
    }

    #[inline(never)]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = class(layout);
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        let new = class(new_layout);
        match (old, new) {
            // Still fits its block.
            (Some(o), Some(n)) if o == n => block,
            // SAFETY: a system block allocated with `layout`, resized as the system allows.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: `new_layout` has a non-zero size (a realloc's new size is non-zero).
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    // SAFETY: both blocks are live and distinct; the copy fits both.
                    unsafe {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_layouts_find_the_smallest_class_that_holds_them() {
        let layout = |size, align| Layout::from_size_align(size, align).unwrap();
        assert_eq!(class(layout(1, 1)), Some(0));
        assert_eq!(class(layout(8, 8)), Some(0));
        assert_eq!(class(layout(9, 1)), Some(1));
        assert_eq!(class(layout(100, 4)), Some(8));
        assert_eq!(class(layout(256, 8)), Some(11));
        assert_eq!(class(layout(257, 1)), Some(12));
        assert_eq!(class(layout(1025, 1)), None);
        assert_eq!(class(layout(16, 16)), None);
        for size in 1..=LARGEST {
            let c = class(layout(size, 1)).unwrap();
            assert!(
                CLASSES[c] >= size && (c == 0 || CLASSES[c - 1] < size),
                "{size}"
            );
        }
    }

    #[test]
    fn freed_blocks_are_handed_out_again_and_keep_their_contents_across_realloc() {
        let classes = Classes::new();
        let layout = Layout::from_size_align(20, 4).unwrap();
        // SAFETY: layouts passed back exactly as allocated; blocks written within their sizes.
        unsafe {
            let a = classes.alloc(layout);
            assert!(!a.is_null());
            classes.dealloc(a, layout);
            let b = classes.alloc(Layout::from_size_align(24, 8).unwrap());
            assert_eq!(a, b, "the freed 24-byte block comes back");
            ptr::write_bytes(b, 7, 24);
            let grown = classes.realloc(b, Layout::from_size_align(24, 8).unwrap(), 1000);
            assert!(!grown.is_null());
            assert!((0..24).all(|i| *grown.add(i) == 7));
            let shrunk = classes.realloc(grown, Layout::from_size_align(1000, 8).unwrap(), 12);
            assert!((0..12).all(|i| *shrunk.add(i) == 7));
            classes.dealloc(shrunk, Layout::from_size_align(12, 8).unwrap());
        }
    }
}
