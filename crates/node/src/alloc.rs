//! The memory allocator every Common Ground program uses: jemalloc, except on Windows' MSVC
//! toolchain (the system's allocator there).
//!
//! A program picks it with
//! `#[global_allocator] static ALLOCATOR: commonground_node::Allocator = commonground_node::Allocator;`
//! (the desktop app, the `commonground` CLI, the crash test's child and the sync benchmark).
//!
//! Why: applying a batch of changes rebuilds Automerge's columns of operations, so taking in a
//! room's offline notes allocates and frees blocks of several megabytes over and over. glibc's
//! malloc serves blocks that large with fresh `mmap`s and returns them on `free`, so the kernel
//! zeroes new pages for every batch (`clear_page_erms` was about a fifth of the document
//! threads' samples in the benchmark's 30 × 300 convergence run). jemalloc reuses freed pages,
//! and gives idle ones back to the system after about ten seconds.
//!
//! Measured on this machine (`cargo bench -p commonground-node --bench sync`, convergence of
//! 30 laptops × 300 offline notes; per device = the facilitator's document work plus the
//! slowest other laptop's): glibc 3.40 and 4.14 s, jemalloc 1.99–3.29 s in five runs.

#[cfg(not(target_env = "msvc"))]
pub use tikv_jemallocator::Jemalloc as Allocator;

#[cfg(target_env = "msvc")]
pub use std::alloc::System as Allocator;
