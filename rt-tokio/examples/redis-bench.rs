//! `redis-bench REDIS_URL [--subscribers N] [--messages N] [--rate PER_S] [--throughput N]`:
//! the Redis hub backend measured against the in-process one, in the same run.
//!
//! 1. Publish-to-delivery latency: node A publishes `--messages` messages at `--rate` per
//!    second; node B (another hub, its own Redis connections) has `--subscribers`
//!    subscribers; every subscriber records when each message arrives. The peer: one
//!    in-process hub ([`MemoryBackend`]) with the same subscribers and the same publishes.
//! 2. Messages per second through one Redis: 16 concurrent publishers on node A, one
//!    subscriber on node B that receives all `--throughput` messages. Peers: a plain Redis
//!    `PUBLISH` from the same client (the floor of one round trip per message, without
//!    history), and the in-process hub.
//!
//! ```sh
//! redis-server --port 6390 --save '' --appendonly no &
//! cargo run --release -p rt-tokio --features redis --example redis-bench -- redis://127.0.0.1:6390
//! ```
//!
//! Timings on a shared machine are noisy: compare the ratios within one run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rt_tokio::hub::{
    Backend, ChannelName, Hub, HubConfig, Item, MemoryBackend, MemoryConfig, RedisBackend,
    RedisConfig,
};

struct Args {
    url: String,
    subscribers: usize,
    messages: usize,
    rate: u64,
    throughput: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: redis-bench REDIS_URL [--subscribers N] [--messages N] [--rate PER_S] [--throughput N]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        subscribers: 1000,
        messages: 1000,
        rate: 200,
        throughput: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = || -> u64 {
            it.next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match arg.as_str() {
            "--subscribers" => a.subscribers = number() as usize,
            "--messages" => a.messages = number() as usize,
            "--rate" => a.rate = number().max(1),
            "--throughput" => a.throughput = number() as usize,
            u if !u.starts_with('-') => a.url = u.to_string(),
            _ => usage(),
        }
    }
    if a.url.is_empty() {
        usage()
    }
    a
}

/// A key prefix of its own, so runs do not see each other's channels.
fn config() -> RedisConfig {
    let mut c = RedisConfig::default();
    c.key_prefix = format!("bench-{}", std::process::id());
    c.max_messages = 100_000;
    c.max_bytes = 64 << 20;
    c
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Latency figures in microseconds: (p50, p99, max, samples).
struct Latency {
    p50: u64,
    p99: u64,
    max: u64,
    samples: usize,
}

/// `publisher` publishes `messages` messages at `rate`; `subscriber` has `subscribers`
/// subscribers, each recording every message's latency (the payload is the send time).
async fn latency(publisher: Hub, subscriber: Hub, a: &Args) -> Latency {
    let channel = ChannelName::new("latency").unwrap();
    let base = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.subscribers {
        let mut sub = subscriber.subscribe(&channel, None).await.unwrap();
        let n = a.messages;
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(n);
            while out.len() < n {
                let item = tokio::time::timeout(Duration::from_secs(30), sub.recv()).await;
                match item {
                    Ok(Ok(Item::Message { data, .. })) => {
                        let sent: u64 = std::str::from_utf8(&data).unwrap().parse().unwrap();
                        out.push(base.elapsed().as_micros() as u64 - sent);
                    }
                    Ok(Ok(other)) => panic!("unexpected {other:?}"),
                    Ok(Err(e)) => panic!("subscription ended: {e}"),
                    Err(_) => panic!("no message for 30 s"),
                }
            }
            out
        }));
    }
    let mut every = tokio::time::interval(Duration::from_micros(1_000_000 / a.rate));
    for _ in 0..a.messages {
        every.tick().await;
        let sent = base.elapsed().as_micros() as u64;
        publisher.publish(&channel, sent.to_string()).await.unwrap();
    }
    let mut all = Vec::with_capacity(a.messages * a.subscribers);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    Latency {
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        max: *all.last().unwrap_or(&0),
        samples: all.len(),
    }
}

/// Messages per second: 16 publishers on `publisher`, one subscriber on `subscriber` that
/// must receive all `n`.
async fn throughput(publisher: Hub, subscriber: Hub, n: usize) -> f64 {
    let channel = ChannelName::new("throughput").unwrap();
    let mut sub = subscriber.subscribe(&channel, None).await.unwrap();
    let start = Instant::now();
    let receiver = tokio::spawn(async move {
        let mut got = 0;
        while got < n {
            match tokio::time::timeout(Duration::from_secs(30), sub.recv()).await {
                Ok(Ok(Item::Message { .. })) => got += 1,
                other => panic!("throughput subscriber: {other:?}"),
            }
        }
    });
    let publishers = 16;
    let mut tasks = Vec::new();
    for p in 0..publishers {
        let (hub, channel) = (publisher.clone(), channel.clone());
        tasks.push(tokio::spawn(async move {
            for i in (p..n).step_by(publishers) {
                hub.publish(&channel, format!("message {i:08}"))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    receiver.await.unwrap();
    n as f64 / start.elapsed().as_secs_f64()
}

/// Plain `PUBLISH`es, 16 concurrent publishers on one multiplexed connection: the cost of a
/// round trip per message without history, ordering or fan-out on the node.
async fn raw_publish(url: &str, n: usize) -> f64 {
    let client = redis::Client::open(url).unwrap();
    let connection = client.get_multiplexed_async_connection().await.unwrap();
    let start = Instant::now();
    let publishers = 16;
    let mut tasks = Vec::new();
    for p in 0..publishers {
        let mut c = connection.clone();
        tasks.push(tokio::spawn(async move {
            for i in (p..n).step_by(publishers) {
                let mut cmd = redis::cmd("PUBLISH");
                cmd.arg("bench-raw").arg(format!("message {i:08}"));
                cmd.query_async::<i64>(&mut c).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn memory_hub() -> Hub {
    let mut c = MemoryConfig::default();
    c.max_messages = 100_000;
    c.max_bytes = 64 << 20;
    Hub::new(MemoryBackend::new(c))
}

async fn redis_node(url: &str) -> Hub {
    let backend: Arc<dyn Backend> = Arc::new(RedisBackend::connect(url, config()).await.unwrap());
    Hub::from_arc(backend, HubConfig::default())
}

fn print_latency(name: &str, l: &Latency) {
    println!(
        "{name:<34} p50 {:>7} us   p99 {:>7} us   max {:>7} us   ({} deliveries)",
        l.p50, l.p99, l.max, l.samples
    );
}

#[tokio::main]
async fn main() {
    let a = args();
    println!(
        "latency: {} subscribers, {} messages at {}/s",
        a.subscribers, a.messages, a.rate
    );
    let (node_a, node_b) = (redis_node(&a.url).await, redis_node(&a.url).await);
    let redis = latency(node_a.clone(), node_b.clone(), &a).await;
    let memory = memory_hub();
    let local = latency(memory.clone(), memory, &a).await;
    print_latency("Redis, node A -> node B", &redis);
    print_latency("in-process hub (peer)", &local);
    println!(
        "ratio Redis / in-process: p50 x{:.1}, p99 x{:.1}",
        redis.p50 as f64 / local.p50.max(1) as f64,
        redis.p99 as f64 / local.p99.max(1) as f64
    );

    println!(
        "throughput: {} messages, 16 publishers, 1 subscriber",
        a.throughput
    );
    let through_redis = throughput(node_a, node_b, a.throughput).await;
    let raw = raw_publish(&a.url, a.throughput).await;
    let memory = memory_hub();
    let through_memory = throughput(memory.clone(), memory, a.throughput).await;
    println!(
        "{:<34} {:>10.0} msg/s",
        "Redis hub, node A -> node B", through_redis
    );
    println!("{:<34} {:>10.0} msg/s", "plain Redis PUBLISH (peer)", raw);
    println!(
        "{:<34} {:>10.0} msg/s",
        "in-process hub (peer)", through_memory
    );
    println!(
        "ratio Redis hub / plain PUBLISH: {:.2}; Redis hub / in-process: {:.3}",
        through_redis / raw,
        through_redis / through_memory
    );
}
