//! The tables and goals the load benchmark writes into BENCHMARKS.md.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use switchyard_benches::{benchmarks_md, ms, write_section};

use super::*;

/// `ms` without the unit, for table cells.
pub(crate) fn cell(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

pub(crate) fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// Writes the load section of BENCHMARKS.md: the scenario table, the latency-corrected runs,
/// memory and start, and whether each goal is met.
pub(crate) async fn write(
    opts: &Opts,
    rows: &[Row],
    peaks: &[(&str, u64)],
    (one, two): &(Measured, Measured),
    errors: u64,
    write_failures: u32,
) -> anyhow::Result<()> {
    let mut table = String::from(
        "| store | scenario | max req/s | p50 | p99 | p99.9 | baseline max req/s | ratio | half rate req/s | p50 | p99 | p99.9 | baseline at that rate: p99 | errors |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let (max, half) = (r.max.server, r.half.server);
        let writes = r.writes.map_or(String::new(), |(ok, failed)| {
            format!(" ({ok} writes ok, {failed} failed)")
        });
        writeln!(
            table,
            "| {} | {}{writes} | {:.0} | {} | {} | {} | {:.0} | {:.2} | {:.0} | {} | {} | {} | {} | {} |",
            r.store,
            r.scenario,
            max.rps,
            cell(max.p50),
            cell(max.p99),
            cell(max.p999),
            r.max.baseline.rps,
            max.rps / r.max.baseline.rps,
            half.rps,
            cell(half.p50),
            cell(half.p99),
            cell(half.p999),
            cell(r.half.baseline.p99),
            max.errors + half.errors,
        )?;
    }
    // Whether the generator capped the baseline: its core's share while it ran, and the
    // ratio again from the CPU each process spent per request, which no generator caps.
    let mut generator = String::from(
        "| store | scenario | wrk's core busy: baseline run | server run | CPU per request: baseline | server | ratio by CPU | ratio by req/s |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let us = |d: Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6);
    for r in rows {
        let (server, base) = (r.max.server, r.max.baseline);
        writeln!(
            generator,
            "| {} | {} | {:.0} % | {:.0} % | {} | {} | {:.2} | {:.2} |",
            r.store,
            r.scenario,
            100.0 * base.generator_busy,
            100.0 * server.generator_busy,
            us(base.cpu_per_request),
            us(server.cpu_per_request),
            base.cpu_per_request.as_secs_f64() / server.cpu_per_request.as_secs_f64().max(1e-12),
            server.rps / base.rps,
        )?;
    }
    let mut corrected = String::new();
    for r in rows {
        if let Some(c) = r.corrected {
            writeln!(
                corrected,
                "- {} `{}` at {:.0} req/s: p50 {}, p99 {}, p99.9 {}; the bare baseline at the same rate: p50 {}, p99 {}, p99.9 {}.",
                r.store,
                r.scenario,
                c.server.rps,
                ms(c.server.p50),
                ms(c.server.p99),
                ms(c.server.p999),
                ms(c.baseline.p50),
                ms(c.baseline.p99),
                ms(c.baseline.p999),
            )?;
        }
    }
    let mut mem = String::from(
        "| flags | time to ready | RSS idle | RSS peak under load | after `kill -9`: time to ready, RSS idle |\n\
         |---:|---:|---:|---:|---:|\n",
    );
    let mut rss_10k = 0;
    let mb = |kib: u64| kib as f64 / 1024.0;
    for flags in [1000, 10_000, 100_000] {
        let m = memory(opts, flags).await?;
        if flags == 10_000 {
            rss_10k = m.load_kib;
        }
        println!(
            "{flags} flags: ready in {:?}, RSS idle {} KiB, peak {} KiB; after kill -9 ready in {:?}, RSS {} KiB",
            m.start, m.idle_kib, m.load_kib, m.after_kill.0, m.after_kill.1
        );
        writeln!(
            mem,
            "| {} | {:.2} s | {:.1} MB | {:.1} MB | {:.2} s, {:.1} MB |",
            m.flags,
            m.start.as_secs_f64(),
            mb(m.idle_kib),
            mb(m.load_kib),
            m.after_kill.0.as_secs_f64(),
            mb(m.after_kill.1),
        )?;
    }
    let evaluate: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario == "POST /v1/evaluate")
        .collect();
    let lowest = |scenario: &str| {
        rows.iter()
            .filter(|r| r.scenario == scenario)
            .map(|r| r.max.server.rps / r.max.baseline.rps)
            .fold(f64::INFINITY, f64::min)
    };
    let worst_ratio = lowest("POST /v1/evaluate");
    let worst_ofrep = lowest("OFREP single");
    // The write storm's half-rate p99 beside the plain row's, per store.
    let storm = rows
        .iter()
        .filter(|r| r.writes.is_some())
        .filter_map(|s| {
            let plain = evaluate.iter().find(|r| r.store == s.store)?;
            Some(s.half.server.p99.as_secs_f64() / plain.half.server.p99.as_secs_f64())
        })
        .fold(0.0, f64::max);
    let worst_p99 = evaluate
        .iter()
        .map(|r| r.half.server.p99)
        .max()
        .context("no /v1/evaluate row")?;
    let rss_mb = rss_10k as f64 / 1024.0;
    let goals = format!(
        "Goals, over both stores:\n\
         - `/v1/evaluate` at ≥ 90 % of the baseline's req/s: {} (lowest {:.0} %).\n\
         - OFREP single at ≥ 85 % of the baseline's req/s: {} (lowest {:.0} %).\n\
         - The write storm's half-rate p99 within 1.5× the plain `/v1/evaluate` row's: {} \
         (highest {storm:.2}×).\n\
         - p99 under 1 ms at half the maximum rate, `/v1/evaluate`: {} (highest {}).\n\
         - RSS under 50 MB with 10,000 flags: {} ({rss_mb:.1} MB).\n\
         - No error under any scenario: {} ({errors} errors, {write_failures} failed writes).",
        met(worst_ratio >= 0.9),
        100.0 * worst_ratio,
        met(worst_ofrep >= 0.85),
        100.0 * worst_ofrep,
        met(storm <= 1.5),
        met(worst_p99 < Duration::from_millis(1)),
        ms(worst_p99),
        met(rss_mb < 50.0),
        met(errors == 0 && write_failures == 0),
    );
    let us = |m: &Measured| m.cpu_per_request.as_secs_f64() * 1e6;
    let scaling = format!(
        "Two workers beside one (embedded store, `/v1/evaluate`, 1,000 flags): this machine has \
         two cores, so the generator cannot have one of its own. Both servers ran unpinned on \
         both cores with `wrk -t2` beside them, taking turns, {rounds} rounds each (medians). \
         One worker: {:.0} req/s at {:.1} µs of server CPU per request; two workers: {:.0} \
         req/s at {:.1} µs. Throughput **{:.2}×** one worker's, with wrk taking its share of \
         the same two cores; CPU per request {:.2}× (1.00 would mean a second worker adds no \
         cost of its own: no lock or cache line fought over).",
        one.rps,
        us(one),
        two.rps,
        us(two),
        two.rps / one.rps,
        us(two) / us(one),
        rounds = opts.rounds,
    );
    let peaks: Vec<String> = peaks
        .iter()
        .map(|(s, k)| format!("{s} {:.1} MB", *k as f64 / 1024.0))
        .collect();
    let body = format!(
        "Measured {date} on {machine} by `benches/load.sh`, over loopback: the server (1 worker) \
         pinned to core {server_cores}, the load generator to core {load_cores}. Every baseline is \
         the bare actix-web handler (`baseline_server`, 1 worker, same pinning) answering a body \
         of the scenario's size, with the same requests and connections. For each scenario and \
         each way of driving it, the baseline and the server take turns: a discarded {warm} s \
         warm-up of each, then {rounds} rounds of {d} s each; every figure is the median of its \
         {rounds} rounds. Each scenario sends {n} distinct requests at random: random flags, \
         users (1 of 1,000,000) and markets.\n\n\
         - Maximum: `wrk -t{t} -c{c} -d{d}s`, closed loop. Latency in ms.\n\
         - Half rate: `oha -q <half the server's median maximum> -c{c} -z{d}s --worker-threads {t}`, \
         open loop (sent on schedule whether or not earlier requests were answered); latency in \
         ms from the moment each request is sent. The baseline gets the same rate.\n\
         - Errors: connection errors, timeouts and unexpected statuses, over every server run.\n\n\
         {table}\n\
         The same half-rate `/v1/evaluate` runs with `oha --latency-correction`, counting \
         latency from each request's scheduled send, so that time queued inside oha (one core, \
         {c} connections, a 1 ms timer) counts too:\n\n{corrected}\n\
         Is the load generator the bottleneck? This machine has two cores, so the generator \
         cannot get two of its own: instead, while each maximum-rate run went on, its core's \
         share was read from `/proc` (100 % would mean wrk, not the server, set the pace), and \
         so was the CPU time the process under test spent per request. The ratio by CPU \
         (baseline's CPU per request over the server's) owes nothing to the generator; where it \
         differs from the ratio by req/s, it is the truer of the two (medians of the rounds, \
         the same runs as the table above):\n\n{generator}\n\
         Peak RSS over the scenarios (1,000 flags): {peaks}.\n\n\
         Memory and start (embedded store, a fresh start on the stored flags after a clean stop \
         (SIGTERM); the load is `/v1/evaluate` over all of them, 5 s. After `kill -9` the \
         embedded store repairs its file on the next start, which the last column \
         shows):\n\n{mem}\n{scaling}\n\n{goals}",
        date = chrono::Utc::now().format("%Y-%m-%d"),
        machine = machine(),
        warm = WARM_UP.as_secs(),
        rounds = opts.rounds,
        n = opts.requests,
        c = opts.connections,
        d = opts.seconds,
        peaks = peaks.join(", "),
        server_cores = opts.server_cores,
        load_cores = opts.load_cores,
        t = opts.load_threads,
    );
    println!("\n{body}");
    write_section(&benchmarks_md(), "load", &body)?;
    println!("\nwritten to {}", benchmarks_md().display());
    Ok(())
}
