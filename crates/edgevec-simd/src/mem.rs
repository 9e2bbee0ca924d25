//! Memory hints for the large arrays a search reads at random: transparent huge pages.
//!
//! A beam search touches a few dozen vectors and neighbour lists scattered over hundreds of
//! megabytes; with 4 KiB pages nearly every one of those reads also misses the TLB and waits for
//! a page-table walk. Backed by 2 MiB pages, the same arrays need 512 times fewer TLB entries.
//! Linux hands out transparent huge pages to ranges marked `MADV_HUGEPAGE` (its default policy,
//! `madvise`, gives them to nothing else), and `MADV_COLLAPSE` (Linux 6.1+) rebuilds a range that
//! is already resident out of huge pages, synchronously.

/// Asks the kernel to back the whole 2 MiB pages inside `values` with transparent huge pages:
/// marks them `MADV_HUGEPAGE` (page faults there take huge pages from now on) and collapses
/// what is already resident (`MADV_COLLAPSE`). Returns whether the kernel accepted the collapse.
///
/// Purely advisory: contents never change, errors (an older kernel, huge pages disabled, no
/// free huge page) are ignored and leave the memory as it was. Only the 2 MiB-aligned interior
/// of the slice is advised, which lies entirely inside the caller's allocation. Does nothing
/// off Linux and for slices that hold no whole 2 MiB page.
pub fn advise_huge_pages<T>(values: &[T]) -> bool {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        // The collapse request, `MADV_COLLAPSE` in <linux/mman.h>: 25 on every architecture.
        const MADV_COLLAPSE: libc::c_int = 25;
        let start = values.as_ptr() as usize;
        let end = start + std::mem::size_of_val(values);
        let first = start.next_multiple_of(HUGE);
        let last = end & !(HUGE - 1);
        if last <= first {
            return false;
        }
        let ptr = first as *mut libc::c_void;
        let len = last - first;
        // SAFETY: `first..last` lies inside `values`, memory this process owns and keeps alive
        // for the duration of the call (it is borrowed). MADV_HUGEPAGE only sets a flag on the
        // mapping, and MADV_COLLAPSE copies resident pages into huge pages with their contents
        // unchanged: neither frees, zeroes or unmaps memory, so no Rust value is invalidated.
        // Failures are reported through the return value and ignored.
        unsafe {
            libc::madvise(ptr, len, libc::MADV_HUGEPAGE);
            libc::madvise(ptr, len, MADV_COLLAPSE) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = values;
        false
    }
}

/// Marks the whole 2 MiB pages of `v`'s allocation (its capacity, not only its length)
/// `MADV_HUGEPAGE`, so that the pages faulted in as it fills come as huge pages; call it after
/// reserving. Skipped for allocations under 4 MiB (too few huge pages to matter). Advisory like
/// [`advise_huge_pages`]; a no-op off Linux.
#[allow(clippy::ptr_arg)] // The capacity is the point: a slice has none.
pub fn hint_huge_pages<T>(v: &Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
        if bytes < 2 * HUGE {
            return;
        }
        let start = v.as_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let last = (start + bytes) & !(HUGE - 1);
        if last <= first {
            return;
        }
        // SAFETY: `first..last` lies inside the vector's allocation (`capacity` elements from
        // its pointer, which a `Vec` always owns), borrowed for the call. MADV_HUGEPAGE only
        // sets a flag on the mapping; it frees, zeroes and moves nothing.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advising_keeps_every_value() {
        let values: Vec<u64> = (0..3_000_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9))
            .collect();
        let collapsed = advise_huge_pages(&values);
        // Whether the kernel collapsed depends on its version and settings; the contents may
        // never change either way.
        println!("collapsed: {collapsed}");
        assert!(
            values
                .iter()
                .enumerate()
                .all(|(i, v)| *v == (i as u64).wrapping_mul(0x9E37_79B9))
        );
        // Too small for a whole huge page: nothing to do.
        assert!(!advise_huge_pages(&values[..1000]));
        assert!(!advise_huge_pages::<u8>(&[]));
    }

    #[test]
    fn hinting_then_filling_keeps_every_value() {
        let mut v: Vec<u32> = Vec::with_capacity(4_000_000);
        hint_huge_pages(&v);
        v.extend(0..4_000_000u32);
        hint_huge_pages(&v);
        assert!(v.iter().enumerate().all(|(i, x)| *x as usize == i));
        hint_huge_pages(&Vec::<u8>::new());
    }
}
