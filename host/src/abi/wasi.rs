//! The WASI preview1 subset proxy-wasm filters import, implemented here (not with wasmtime-wasi)
//! so that the runtime's `Clock` drives the clocks: clocks, randomness, empty environment and
//! arguments, stdout/stderr into the host log, `proc_exit`, and sensible answers for the few fd
//! calls language runtimes make at start. Any other preview1 import is answered `NOSYS` (see
//! `stub_missing_wasi`).

use wasmtime::{Linker, Module, Val};

use super::imports::C;
use super::memory::{arg, read_u32, slice, write_bytes, write_u32, write_u64};
use super::{HostState, LogLevel, ProcExit, Status};
use crate::limits::MAX_RANDOM_BYTES;

const WASI: &str = "wasi_snapshot_preview1";
const SUCCESS: i32 = 0;
const BADF: i32 = 8;
const FAULT: i32 = 21;
const INVAL: i32 = 28;
const NOSYS: i32 = 52;
const NOTSUP: i32 = 58;
const SPIPE: i32 = 70;

/// The preview1 functions `register_wasi` defines.
const DEFINED: &[&str] = &[
    "clock_time_get",
    "clock_res_get",
    "random_get",
    "environ_sizes_get",
    "args_sizes_get",
    "environ_get",
    "args_get",
    "fd_write",
    "proc_exit",
    "sched_yield",
    "fd_close",
    "fd_seek",
    "fd_fdstat_get",
    "fd_prestat_get",
    "fd_read",
];

fn errno(
    c: &mut C<'_>,
    f: impl FnOnce(&mut [u8], &mut super::ProxyHost) -> Result<i32, Status>,
) -> i32 {
    match super::imports::split(c).and_then(|(mem, host)| f(mem, host)) {
        Ok(e) => e,
        Err(_) => FAULT,
    }
}

pub(super) fn register_wasi(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        WASI,
        "clock_time_get",
        |mut c: C<'_>, id: i32, _precision: i64, ret: i32| -> i32 {
            errno(&mut c, |mem, host| {
                let nanos = match id {
                    0 => host.current_time_nanos(),
                    1 => u64::try_from(host.clock.now_monotonic().as_nanos()).unwrap_or(u64::MAX),
                    _ => return Ok(NOTSUP),
                };
                write_u64(mem, arg(ret), nanos)?;
                Ok(SUCCESS)
            })
        },
    )?;
    l.func_wrap(
        WASI,
        "clock_res_get",
        |mut c: C<'_>, id: i32, ret: i32| -> i32 {
            errno(&mut c, |mem, _| {
                if !(0..=1).contains(&id) {
                    return Ok(NOTSUP);
                }
                write_u64(mem, arg(ret), 1)?;
                Ok(SUCCESS)
            })
        },
    )?;
    l.func_wrap(
        WASI,
        "random_get",
        |mut c: C<'_>, ptr: i32, len: i32| -> i32 {
            errno(&mut c, |mem, _| {
                let n = usize::try_from(arg(len)).unwrap_or(usize::MAX);
                if n > MAX_RANDOM_BYTES {
                    return Ok(INVAL);
                }
                let mut buf = vec![0u8; n];
                if getrandom::getrandom(&mut buf).is_err() {
                    return Ok(INVAL);
                }
                write_bytes(mem, arg(ptr), &buf)?;
                Ok(SUCCESS)
            })
        },
    )?;
    for name in ["environ_sizes_get", "args_sizes_get"] {
        l.func_wrap(WASI, name, |mut c: C<'_>, count: i32, size: i32| -> i32 {
            errno(&mut c, |mem, _| {
                write_u32(mem, arg(count), 0)?;
                write_u32(mem, arg(size), 0)?;
                Ok(SUCCESS)
            })
        })?;
    }
    for name in ["environ_get", "args_get"] {
        l.func_wrap(WASI, name, |_: C<'_>, _: i32, _: i32| -> i32 { SUCCESS })?;
    }
    l.func_wrap(
        WASI,
        "fd_write",
        |mut c: C<'_>, fd: i32, iovs: i32, n: i32, ret: i32| -> i32 {
            errno(&mut c, |mem, host| {
                let level = match fd {
                    1 => LogLevel::Info,
                    2 => LogLevel::Error,
                    _ => return Ok(BADF),
                };
                let mut text = Vec::new();
                for i in 0..arg(n) {
                    let at =
                        arg(iovs).checked_add(i.checked_mul(8).ok_or(Status::InvalidMemoryAccess)?);
                    let at = at.ok_or(Status::InvalidMemoryAccess)?;
                    let ptr = read_u32(mem, at)?;
                    let len = read_u32(mem, at.checked_add(4).ok_or(Status::InvalidMemoryAccess)?)?;
                    text.extend_from_slice(slice(mem, ptr, len)?);
                }
                write_u32(mem, arg(ret), u32::try_from(text.len()).unwrap_or(u32::MAX))?;
                let s = String::from_utf8_lossy(&text);
                let s = s.trim_end_matches('\n');
                if !s.is_empty() {
                    host.log.log(level, s);
                }
                Ok(SUCCESS)
            })
        },
    )?;
    l.func_wrap(
        WASI,
        "proc_exit",
        |_: C<'_>, code: i32| -> wasmtime::Result<()> { Err(wasmtime::Error::new(ProcExit(code))) },
    )?;
    l.func_wrap(WASI, "sched_yield", |_: C<'_>| -> i32 { SUCCESS })?;
    l.func_wrap(WASI, "fd_close", |_: C<'_>, fd: i32| -> i32 {
        if (0..=2).contains(&fd) {
            SUCCESS
        } else {
            BADF
        }
    })?;
    l.func_wrap(
        WASI,
        "fd_seek",
        |_: C<'_>, fd: i32, _off: i64, _whence: i32, _ret: i32| -> i32 {
            if (0..=2).contains(&fd) {
                SPIPE
            } else {
                BADF
            }
        },
    )?;
    l.func_wrap(
        WASI,
        "fd_fdstat_get",
        |mut c: C<'_>, fd: i32, ret: i32| -> i32 {
            if !(0..=2).contains(&fd) {
                return BADF;
            }
            errno(&mut c, |mem, _| {
                // fdstat: filetype CHARACTER_DEVICE, no flags; rights: fd_write (stdout/stderr) or fd_read.
                let mut stat = [0u8; 24];
                stat[0] = 2;
                let rights: u64 = if fd == 0 { 1 << 1 } else { 1 << 6 };
                stat[8..16].copy_from_slice(&rights.to_le_bytes());
                write_bytes(mem, arg(ret), &stat)?;
                Ok(SUCCESS)
            })
        },
    )?;
    l.func_wrap(
        WASI,
        "fd_prestat_get",
        |_: C<'_>, _fd: i32, _ret: i32| -> i32 { BADF },
    )?;
    l.func_wrap(
        WASI,
        "fd_read",
        |_: C<'_>, _fd: i32, _iovs: i32, _n: i32, _ret: i32| -> i32 { BADF },
    )?;
    Ok(())
}

/// Defines every other `wasi_snapshot_preview1` import `module` needs as a function answering
/// `NOSYS`, so modules built with a fuller libc still load; their other imports must be ours.
pub fn stub_missing_wasi(linker: &mut Linker<HostState>, module: &Module) -> wasmtime::Result<()> {
    for import in module.imports() {
        if import.module() != WASI {
            continue;
        }
        let Some(ty) = import.ty().func().cloned() else {
            continue;
        };
        if DEFINED.contains(&import.name()) {
            continue;
        }
        let name = import.name().to_string();
        let returns_errno = ty.results().len() == 1;
        linker.func_new(WASI, &name.clone(), ty, move |_, _, results| {
            tracing::debug!(import = %name, "filter called an unsupported WASI function");
            if returns_errno {
                if let Some(r) = results.get_mut(0) {
                    *r = Val::I32(NOSYS);
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}
