using System.Diagnostics;
using Pipeline.Bench.Reporting;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.Bench.Zk;

/// <summary>
/// The zk workloads on our client; bench/java/ZkBench.java does exactly the same on the official Java client.
/// seq: create PARENT/ours (persistent, 16 bytes) then delete it, one at a time, timing each pair;
/// get: getData of PARENT/data awaited one at a time, then with N in flight (N workers, each awaiting its next request).
/// </summary>
public sealed class OurClientBench(ZooKeeperClient client, string parent, ZkWorkload workload)
{
    private static readonly byte[] Payload = new byte[16];
    private readonly string seqPath = parent + "/ours";
    private readonly string dataPath = parent + "/data";

    /// <summary>What the last round's measured phases cost this process per op (seq, get1, getN): CPU, allocation, hops.</summary>
    public IReadOnlyDictionary<string, PhaseCost> LastCosts { get; private set; } = new Dictionary<string, PhaseCost>();

    public async Task<ZkRound> RunRoundAsync(CancellationToken cancellationToken)
    {
        await SequentialAsync(workload.WarmupSequential, cancellationToken);
        await GetOneAtATimeAsync(workload.WarmupGets, cancellationToken);
        await GetPipelinedAsync(workload.WarmupGets, workload.InFlight, cancellationToken);

        var meter = ProcessMeter.Start();
        var pairs = await SequentialAsync(workload.Sequential, cancellationToken);
        var seqCost = meter.Stop(workload.Sequential);
        meter = ProcessMeter.Start();
        var one = await GetOneAtATimeAsync(workload.Gets, cancellationToken);
        var oneCost = meter.Stop(workload.Gets);
        meter = ProcessMeter.Start();
        var many = await GetPipelinedAsync(workload.Gets, workload.InFlight, cancellationToken);
        var manyCost = meter.Stop(workload.Gets);
        LastCosts = new Dictionary<string, PhaseCost> { ["seq"] = seqCost, ["get1"] = oneCost, ["getN"] = manyCost };
        Array.Sort(pairs);
        return new ZkRound(
            Percentiles.Micros(Percentiles.Of(pairs, 50)),
            Percentiles.Micros(Percentiles.Of(pairs, 99)),
            pairs.Length / (Percentiles.Micros(pairs.Sum()) / 1e6),
            one,
            many,
            seqCost.CpuUsPerOp,
            oneCost.CpuUsPerOp,
            manyCost.CpuUsPerOp);
    }

    /// <summary>count create+delete pairs; each pair's Stopwatch ticks.</summary>
    private async Task<long[]> SequentialAsync(int count, CancellationToken cancellationToken)
    {
        var took = new long[count];
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await client.CreateAsync(seqPath, Payload, Acl.OpenUnsafe, CreateMode.Persistent, cancellationToken);
            await client.DeleteAsync(seqPath, -1, cancellationToken);
            took[i] = Stopwatch.GetTimestamp() - start;
        }

        return took;
    }

    /// <summary>count getData calls, each awaited before the next; ops/s.</summary>
    private async Task<double> GetOneAtATimeAsync(int count, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            await client.GetDataAsync(dataPath, null, cancellationToken);
        }

        return count / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>count getData calls with <paramref name="inFlight"/> outstanding; ops/s.</summary>
    private async Task<double> GetPipelinedAsync(int count, int inFlight, CancellationToken cancellationToken)
    {
        var remaining = new StrongBox(count);
        var start = Stopwatch.GetTimestamp();
        var workers = new Task[Math.Min(inFlight, count)];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = WorkerAsync(remaining, cancellationToken);
        }

        await Task.WhenAll(workers);
        return count / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private async Task WorkerAsync(StrongBox remaining, CancellationToken cancellationToken)
    {
        while (Interlocked.Decrement(ref remaining.Value) >= 0)
        {
            await client.GetDataAsync(dataPath, null, cancellationToken);
        }
    }

    private sealed class StrongBox(int value)
    {
        public int Value = value;
    }
}
