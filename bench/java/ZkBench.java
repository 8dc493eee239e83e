// The Java side of `bench/run zk`: the same workloads as bench/Bench/Zk/OurClientBench.cs, on the official client
// (org.apache.zookeeper.ZooKeeper from Debian's libzookeeper-java). Compiled and started by the C# scenario
// (bench/Bench/Zk/JavaClientBench.cs), which keeps this JVM alive across rounds so that both sides warm up alike.
//
// Usage: java -cp <zookeeper classpath>:<classes> ZkBench CONNECT PARENT SEQ GETS WARMUP_SEQ WARMUP_GETS INFLIGHT
// Then one command per line on stdin: "round" runs one round (warm-up, then the measured runs) and prints its result as
// one JSON line on stdout; "quit" or end of input closes the session and exits. Diagnostics go to stderr.
//
// Workloads (identical on the C# side):
//   seq: SEQ times, one at a time: create PARENT/java (persistent, 16 bytes) then delete it; latency of each pair.
//   get: GETS synchronous getData of PARENT/data (1 in flight), then GETS async getData with INFLIGHT in flight
//        (each callback issues the next request).

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Version;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public final class ZkBench {
    private static final byte[] PAYLOAD = new byte[16];

    private final ZooKeeper zk;
    private final String seqPath;
    private final String dataPath;

    private ZkBench(ZooKeeper zk, String parent) {
        this.zk = zk;
        this.seqPath = parent + "/java";
        this.dataPath = parent + "/data";
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            System.err.println("usage: ZkBench CONNECT PARENT SEQ GETS WARMUP_SEQ WARMUP_GETS INFLIGHT");
            System.exit(2);
        }

        String connect = args[0];
        String parent = args[1];
        int seq = Integer.parseInt(args[2]);
        int gets = Integer.parseInt(args[3]);
        int warmupSeq = Integer.parseInt(args[4]);
        int warmupGets = Integer.parseInt(args[5]);
        int inFlight = Integer.parseInt(args[6]);

        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connect, 10_000, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        try {
            if (!connected.await(15, TimeUnit.SECONDS)) {
                throw new IllegalStateException("no connection to " + connect + " within 15 s");
            }

            ZkBench bench = new ZkBench(zk, parent);
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            System.out.println("{\"ready\":true,\"java\":\"" + System.getProperty("java.version") + "\",\"client\":\""
                + Version.getFullVersion().split("[ -]")[0] + "\"}");
            System.out.flush();
            String line;
            while ((line = in.readLine()) != null && !line.trim().equals("quit")) {
                if (!line.trim().equals("round")) {
                    System.err.println("ZkBench: unknown command '" + line + "'");
                    continue;
                }

                bench.sequential(warmupSeq);
                bench.getSync(warmupGets);
                bench.getAsync(warmupGets, inFlight);

                long cpu = cpuNanos();
                long[] pairs = bench.sequential(seq);
                long seqCpu = cpuNanos() - cpu;
                cpu = cpuNanos();
                double sync = bench.getSync(gets);
                long syncCpu = cpuNanos() - cpu;
                cpu = cpuNanos();
                double async = bench.getAsync(gets, inFlight);
                long asyncCpu = cpuNanos() - cpu;
                Arrays.sort(pairs);
                System.out.println("{\"seqCount\":" + seq
                    + ",\"seqMedianUs\":" + micros(percentile(pairs, 50))
                    + ",\"seqP99Us\":" + micros(percentile(pairs, 99))
                    + ",\"seqOpsPerSec\":" + Math.round(seq / (Arrays.stream(pairs).sum() / 1e9))
                    + ",\"getCount\":" + gets
                    + ",\"get1OpsPerSec\":" + Math.round(sync)
                    + ",\"getInFlight\":" + inFlight
                    + ",\"getNOpsPerSec\":" + Math.round(async)
                    + ",\"seqCpuUs\":" + micros(seqCpu / Math.max(1, seq))
                    + ",\"get1CpuUs\":" + micros(syncCpu / Math.max(1, gets))
                    + ",\"getNCpuUs\":" + micros(asyncCpu / Math.max(1, gets)) + "}");
                System.out.flush();
            }
        } finally {
            zk.close();
        }
    }

    /** This JVM's CPU time, all threads (JIT and GC included), as bench/Bench/Reporting/ProcessMeter.cs takes ours. */
    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Nearest-rank percentile of sorted nanoseconds (the same rule as bench/Bench/Reporting/Percentiles.cs). */
    private static long percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }

        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    private static String micros(long nanos) {
        return String.format(java.util.Locale.ROOT, "%.1f", nanos / 1000.0);
    }

    /** count create+delete pairs, one at a time; returns each pair's nanoseconds. */
    private long[] sequential(int count) throws KeeperException, InterruptedException {
        long[] took = new long[count];
        for (int i = 0; i < count; i++) {
            long start = System.nanoTime();
            zk.create(seqPath, PAYLOAD, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.delete(seqPath, -1);
            took[i] = System.nanoTime() - start;
        }

        return took;
    }

    /** count synchronous getData calls; returns ops/s. */
    private double getSync(int count) throws KeeperException, InterruptedException {
        Stat stat = new Stat();
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
            zk.getData(dataPath, false, stat);
        }

        return count / ((System.nanoTime() - start) / 1e9);
    }

    /** count async getData calls with inFlight outstanding (each callback issues the next); returns ops/s. */
    private double getAsync(int count, int inFlight) throws InterruptedException {
        AtomicInteger issued = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(count);
        AtomicReference<String> error = new AtomicReference<>();
        AsyncCallback.DataCallback callback = new AsyncCallback.DataCallback() {
            @Override
            public void processResult(int rc, String path, Object ctx, byte[] data, Stat stat) {
                if (rc != KeeperException.Code.OK.intValue()) {
                    error.compareAndSet(null, "getData " + path + ": " + KeeperException.Code.get(rc));
                }

                done.countDown();
                if (issued.incrementAndGet() <= count) {
                    zk.getData(dataPath, false, this, null);
                }
            }
        };

        long start = System.nanoTime();
        for (int i = 0; i < Math.min(inFlight, count); i++) {
            issued.incrementAndGet();
            zk.getData(dataPath, false, callback, null);
        }

        if (!done.await(10, TimeUnit.MINUTES)) {
            throw new IllegalStateException("async getData did not finish");
        }

        long took = System.nanoTime() - start;
        if (error.get() != null) {
            throw new IllegalStateException(error.get());
        }

        return count / (took / 1e9);
    }
}
