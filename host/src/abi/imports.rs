//! The `env` imports of proxy-wasm ABI v0.2.1, one shim per import, named as the spec names them:
//! decode arguments, read guest memory, delegate to `ProxyHost`, copy results back through the
//! guest's allocator. This file: shared helpers, logging, time, buffers, header maps and streams.
//! `imports_io` has callouts, shared data, queues, metrics, properties and the unimplemented rest.

use wasmtime::{Caller, Linker};

use super::memory::{
    arg, check, read_bytes, read_string, slice, write_bytes, write_u32, write_u64,
};
use super::{map, HostState, LogLevel, ProxyHost, Status};

pub(super) type C<'a> = Caller<'a, HostState>;
pub(super) type R = wasmtime::Result<i32>;

/// Guest memory and host state at once; no memory export is `INVALID_MEMORY_ACCESS`.
pub(super) fn split<'a>(c: &'a mut C<'_>) -> Result<(&'a mut [u8], &'a mut ProxyHost), Status> {
    let m = c.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let (mem, state) = m.data_and_store_mut(c);
    Ok((mem, &mut state.host))
}

/// Guest bytes as text without copying them when they are valid UTF-8 (else with replacements,
/// as `read_string`).
pub(super) fn text(mem: &[u8], ptr: i32, len: i32) -> Result<std::borrow::Cow<'_, str>, Status> {
    slice(mem, arg(ptr), arg(len)).map(String::from_utf8_lossy)
}

pub(super) fn code(r: Result<(), Status>) -> i32 {
    match r {
        Ok(()) => Status::Ok.code(),
        Err(s) => s.code(),
    }
}

/// Runs a hostcall body that needs no result memory.
pub(super) fn run(
    c: &mut C<'_>,
    f: impl FnOnce(&mut [u8], &mut ProxyHost) -> Result<(), Status>,
) -> i32 {
    code(split(c).and_then(|(mem, host)| f(mem, host)))
}

/// Runs a hostcall body that produces bytes into `out`, then copies them into memory the guest
/// allocates, writing the address to `ret_ptr` and the size to `ret_size`. `out` is a buffer the
/// store keeps between calls, so a hostcall on the request path allocates nothing on the host.
pub(super) fn run_out(
    c: &mut C<'_>,
    ret_ptr: i32,
    ret_size: i32,
    f: impl FnOnce(&[u8], &mut ProxyHost, &mut Vec<u8>) -> Result<(), Status>,
) -> R {
    let mut out = std::mem::take(&mut c.data_mut().scratch);
    out.clear();
    let produced = split(c).and_then(|(mem, host)| {
        check(mem, arg(ret_ptr), 4)?;
        check(mem, arg(ret_size), 4)?;
        f(mem, host, &mut out)
    });
    let result = match produced {
        Ok(()) => copy_out(c, &out, ret_ptr, ret_size),
        Err(s) => Ok(s.code()),
    };
    // Keep the buffer for the next call, unless a large value (a JWKS body) grew it.
    if out.capacity() <= SCRATCH_KEPT_BYTES {
        c.data_mut().scratch = out;
    }
    result
}

/// Largest result buffer kept between hostcalls: a header map with a token fits many times over.
const SCRATCH_KEPT_BYTES: usize = 64 * 1024;

/// Allocates `bytes.len()` in the guest (through `proxy_on_memory_allocate`) and copies `bytes`
/// there. An empty value is written as a null pointer and size 0, without allocating. A trap in
/// the allocator propagates; an allocator that returns 0 or a pointer outside memory yields
/// `INVALID_MEMORY_ACCESS`.
pub(super) fn copy_out(c: &mut C<'_>, bytes: &[u8], ret_ptr: i32, ret_size: i32) -> R {
    if bytes.is_empty() {
        return Ok(code(split(c).and_then(|(mem, _)| {
            write_u32(mem, arg(ret_ptr), 0)?;
            write_u32(mem, arg(ret_size), 0)
        })));
    }
    let Ok(len) = i32::try_from(bytes.len()) else {
        return Ok(Status::InvalidMemoryAccess.code());
    };
    let Some(alloc) = c.data().alloc.clone() else {
        return Ok(Status::InvalidMemoryAccess.code());
    };
    let addr = alloc.call(&mut *c, len)?;
    Ok(code(split(c).and_then(|(mem, _)| {
        if addr == 0 {
            return Err(Status::InvalidMemoryAccess);
        }
        write_bytes(mem, arg(addr), bytes)?;
        write_u32(mem, arg(ret_ptr), arg(addr))?;
        write_u32(mem, arg(ret_size), arg(len))
    })))
}

/// Registers every proxy-wasm ABI v0.2.1 import and the WASI preview1 subset on `linker`.
pub fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    register_core(linker)?;
    super::imports_io::register_io(linker)?;
    super::wasi::register_wasi(linker)?;
    Ok(())
}

fn register_core(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_log",
        |mut c: C<'_>, level: i32, ptr: i32, len: i32| -> i32 {
            run(&mut c, |mem, host| {
                let msg = slice(mem, arg(ptr), arg(len))?;
                let level = LogLevel::from_abi(level).ok_or(Status::BadArgument)?;
                // Text is made of the bytes only for a line someone will see.
                if host.log.enabled(level) {
                    host.log.log(level, &String::from_utf8_lossy(msg));
                }
                Ok(())
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_log_level",
        |mut c: C<'_>, ret: i32| -> i32 {
            run(&mut c, |mem, host| {
                write_u32(mem, arg(ret), host.log.level() as u32)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: C<'_>, ret: i32| -> i32 {
            run(&mut c, |mem, host| {
                write_u64(mem, arg(ret), host.current_time_nanos())
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: C<'_>, ms: i32| -> i32 {
            run(&mut c, |_, host| {
                host.set_tick_period(arg(ms));
                Ok(())
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut c: C<'_>, buf: i32, ret_size: i32, ret_flags: i32| -> i32 {
            run(&mut c, |mem, host| {
                check(mem, arg(ret_size), 4)?;
                check(mem, arg(ret_flags), 4)?;
                let n = host.get_buffer_status(buf)?;
                write_u32(mem, arg(ret_size), u32::try_from(n).unwrap_or(u32::MAX))?;
                write_u32(mem, arg(ret_flags), 0)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: C<'_>, buf: i32, start: i32, max: i32, ret_ptr: i32, ret_size: i32| -> R {
            run_out(&mut c, ret_ptr, ret_size, |_, host, out| {
                host.buffer_bytes_into(buf, arg(start), arg(max), out)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut c: C<'_>, buf: i32, start: i32, size: i32, ptr: i32, len: i32| -> i32 {
            run(&mut c, |mem, host| {
                let value = slice(mem, arg(ptr), arg(len))?;
                host.set_buffer_bytes(buf, arg(start), arg(size), value)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut c: C<'_>, map_id: i32, ret: i32| -> i32 {
            run(&mut c, |mem, host| {
                check(mem, arg(ret), 4)?;
                let n = map::serialized_len(host.header_map(map_id)?);
                write_u32(mem, arg(ret), u32::try_from(n).unwrap_or(u32::MAX))
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: C<'_>, map_id: i32, ret_ptr: i32, ret_size: i32| -> R {
            run_out(&mut c, ret_ptr, ret_size, |_, host, out| {
                map::serialize_into(host.header_map(map_id)?, out);
                Ok(())
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut c: C<'_>, map_id: i32, ptr: i32, len: i32| -> i32 {
            run(&mut c, |mem, host| {
                let pairs = map::deserialize(super::memory::slice(mem, arg(ptr), arg(len))?)?;
                host.set_header_map_pairs(map_id, pairs)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: C<'_>, map_id: i32, kp: i32, kl: i32, ret_ptr: i32, ret_size: i32| -> R {
            run_out(&mut c, ret_ptr, ret_size, |mem, host, out| {
                let key = text(mem, kp, kl)?;
                out.extend_from_slice(host.header_map_value(map_id, &key)?.as_bytes());
                Ok(())
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: C<'_>, map_id: i32, kp: i32, kl: i32, vp: i32, vl: i32| -> i32 {
            run(&mut c, |mem, host| {
                let key = text(mem, kp, kl)?;
                let value = text(mem, vp, vl)?;
                host.add_header_map_value(map_id, &key, &value)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: C<'_>, map_id: i32, kp: i32, kl: i32, vp: i32, vl: i32| -> i32 {
            run(&mut c, |mem, host| {
                let key = text(mem, kp, kl)?;
                let value = text(mem, vp, vl)?;
                host.replace_header_map_value(map_id, &key, &value)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: C<'_>, map_id: i32, kp: i32, kl: i32| -> i32 {
            run(&mut c, |mem, host| {
                let key = text(mem, kp, kl)?;
                host.remove_header_map_value(map_id, &key)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_continue_stream",
        |mut c: C<'_>, stream: i32| -> i32 { run(&mut c, |_, host| host.continue_stream(stream)) },
    )?;
    l.func_wrap(
        "env",
        "proxy_close_stream",
        |mut c: C<'_>, stream: i32| -> i32 { run(&mut c, |_, host| host.close_stream(stream)) },
    )?;
    l.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: C<'_>,
         status: i32,
         dp: i32,
         dl: i32,
         bp: i32,
         bl: i32,
         hp: i32,
         hl: i32,
         _grpc: i32|
         -> i32 {
            run(&mut c, |mem, host| {
                let details = read_string(mem, arg(dp), arg(dl))?;
                let body = read_bytes(mem, arg(bp), arg(bl))?;
                let headers = map::deserialize(super::memory::slice(mem, arg(hp), arg(hl))?)?;
                host.send_local_response(arg(status), &details, body, headers)
            })
        },
    )?;
    l.func_wrap("env", "proxy_done", |mut c: C<'_>| -> i32 {
        run(&mut c, |_, host| host.done())
    })?;
    l.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut c: C<'_>, ctx: i32| -> i32 {
            run(&mut c, |_, host| host.set_effective_context(arg(ctx)))
        },
    )?;
    Ok(())
}
