//! The `env` imports that reach beyond the stream: callouts, shared data and queues, metrics,
//! properties, foreign functions, and the gRPC calls this host does not implement.

use wasmtime::Linker;

use super::imports::{run, run_out, C, R};
use super::memory::{arg, check, read_bytes, read_string, slice, write_u32, write_u64};
use super::properties::{get_property, set_property, split_path};
use super::{map, HostState, Status};
use crate::runtime::MetricKind;

pub(super) fn register_io(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: C<'_>,
         up: i32,
         ul: i32,
         hp: i32,
         hl: i32,
         bp: i32,
         bl: i32,
         tp: i32,
         tl: i32,
         timeout: i32,
         ret: i32|
         -> i32 {
            run(&mut c, |mem, host| {
                check(mem, arg(ret), 4)?;
                let upstream = read_string(mem, arg(up), arg(ul))?;
                let headers = map::deserialize(slice(mem, arg(hp), arg(hl))?)?;
                let body = read_bytes(mem, arg(bp), arg(bl))?;
                let trailers = map::deserialize(slice(mem, arg(tp), arg(tl))?)?;
                let id = host.http_call(upstream, headers, body, trailers, arg(timeout))?;
                write_u32(mem, arg(ret), id)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: C<'_>, kp: i32, kl: i32, vp: i32, vl: i32, cas: i32| -> i32 {
            run(&mut c, |mem, host| {
                let key = read_string(mem, arg(kp), arg(kl))?;
                let value = slice(mem, arg(vp), arg(vl))?;
                host.shared.set_shared_data(&key, value, arg(cas))
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: C<'_>, kp: i32, kl: i32, ret_ptr: i32, ret_size: i32, ret_cas: i32| -> R {
            let mut token = 0u32;
            let status = run_out(&mut c, ret_ptr, ret_size, |mem, host, out| {
                check(mem, arg(ret_cas), 4)?;
                let key = String::from_utf8_lossy(slice(mem, arg(kp), arg(kl))?);
                token = host.shared.get_shared_data_into(&key, out)?;
                Ok(())
            })?;
            if status != Status::Ok.code() {
                return Ok(status);
            }
            Ok(run(&mut c, |mem, _| write_u32(mem, arg(ret_cas), token)))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut c: C<'_>, np: i32, nl: i32, ret: i32| -> i32 {
            run(&mut c, |mem, host| {
                check(mem, arg(ret), 4)?;
                let name = read_string(mem, arg(np), arg(nl))?;
                let id = host.register_shared_queue(&name);
                write_u32(mem, arg(ret), id)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut c: C<'_>, vp: i32, vl: i32, np: i32, nl: i32, ret: i32| -> i32 {
            run(&mut c, |mem, host| {
                check(mem, arg(ret), 4)?;
                let vm_id = read_string(mem, arg(vp), arg(vl))?;
                let name = read_string(mem, arg(np), arg(nl))?;
                let id = host.shared.resolve_queue(&vm_id, &name)?;
                write_u32(mem, arg(ret), id)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |mut c: C<'_>, id: i32, vp: i32, vl: i32| -> i32 {
            run(&mut c, |mem, host| {
                host.shared.enqueue(arg(id), slice(mem, arg(vp), arg(vl))?)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut c: C<'_>, id: i32, ret_ptr: i32, ret_size: i32| -> R {
            run_out(&mut c, ret_ptr, ret_size, |_, host, out| {
                *out = host.shared.dequeue(arg(id))?;
                Ok(())
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: C<'_>, kind: i32, np: i32, nl: i32, ret: i32| -> i32 {
            run(&mut c, |mem, host| {
                check(mem, arg(ret), 4)?;
                let kind = MetricKind::from_abi(kind).ok_or(Status::BadArgument)?;
                let name = read_string(mem, arg(np), arg(nl))?;
                let id = host.shared.define_metric(kind, &name);
                write_u32(mem, arg(ret), id)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut c: C<'_>, id: i32, delta: i64| -> i32 {
            run(&mut c, |_, host| {
                host.shared.increment_metric(arg(id), delta)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_record_metric",
        |mut c: C<'_>, id: i32, value: i64| -> i32 {
            run(&mut c, |_, host| {
                host.shared.record_metric(arg(id), value as u64)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_metric",
        |mut c: C<'_>, id: i32, ret: i32| -> i32 {
            run(&mut c, |mem, host| {
                check(mem, arg(ret), 8)?;
                let v = host.shared.get_metric(arg(id))?;
                write_u64(mem, arg(ret), v)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: C<'_>, pp: i32, pl: i32, ret_ptr: i32, ret_size: i32| -> R {
            run_out(&mut c, ret_ptr, ret_size, |mem, host, out| {
                get_property(host, slice(mem, arg(pp), arg(pl))?, out)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_property",
        |mut c: C<'_>, pp: i32, pl: i32, vp: i32, vl: i32| -> i32 {
            run(&mut c, |mem, host| {
                let path = split_path(slice(mem, arg(pp), arg(pl))?);
                let value = read_bytes(mem, arg(vp), arg(vl))?;
                set_property(host, &path, value)
            })
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut c: C<'_>, np: i32, nl: i32, ap: i32, al: i32, rp: i32, rl: i32| -> i32 {
            run(&mut c, |mem, host| {
                check(mem, arg(ap), arg(al))?;
                check(mem, arg(rp), 4)?;
                check(mem, arg(rl), 4)?;
                let name = read_string(mem, arg(np), arg(nl))?;
                // No foreign functions are registered in this host.
                tracing::debug!(plugin = %host.log.plugin, function = %name, "unknown foreign function");
                Err(Status::NotFound)
            })
        },
    )?;
    register_unimplemented(l)
}

fn register_unimplemented(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    fn unimplemented(c: &mut C<'_>, name: &'static str) -> i32 {
        c.data_mut().host.log.unimplemented(name);
        Status::Unimplemented.code()
    }
    l.func_wrap(
        "env",
        "proxy_get_status",
        |mut c: C<'_>, _: i32, _: i32, _: i32| -> i32 { unimplemented(&mut c, "proxy_get_status") },
    )?;
    l.func_wrap(
        "env",
        "proxy_grpc_call",
        |mut c: C<'_>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32|
         -> i32 { unimplemented(&mut c, "proxy_grpc_call") },
    )?;
    l.func_wrap(
        "env",
        "proxy_grpc_stream",
        |mut c: C<'_>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32|
         -> i32 { unimplemented(&mut c, "proxy_grpc_stream") },
    )?;
    l.func_wrap(
        "env",
        "proxy_grpc_send",
        |mut c: C<'_>, _: i32, _: i32, _: i32, _: i32| -> i32 {
            unimplemented(&mut c, "proxy_grpc_send")
        },
    )?;
    l.func_wrap("env", "proxy_grpc_cancel", |mut c: C<'_>, _: i32| -> i32 {
        unimplemented(&mut c, "proxy_grpc_cancel")
    })?;
    l.func_wrap("env", "proxy_grpc_close", |mut c: C<'_>, _: i32| -> i32 {
        unimplemented(&mut c, "proxy_grpc_close")
    })?;
    Ok(())
}
