namespace Pipeline.Bench.Zk;

/// <summary>The counts of one round of the zk workloads, the same on both sides.</summary>
/// <param name="Sequential">create+delete pairs measured, one at a time.</param>
/// <param name="Gets">getData calls measured at each in-flight level.</param>
/// <param name="WarmupSequential">create+delete pairs before measuring, every round, on both sides.</param>
/// <param name="WarmupGets">getData calls before measuring, at each in-flight level, every round, on both sides.</param>
/// <param name="InFlight">requests outstanding in the pipelined getData run.</param>
public sealed record ZkWorkload(int Sequential, int Gets, int WarmupSequential, int WarmupGets, int InFlight);

/// <summary>One round's numbers from one client. The CPU figures are the client process's CPU time (all its threads) per
/// operation (per pair for create+delete): robust where wall-clock numbers suffer from a busy 2-core machine.</summary>
public sealed record ZkRound(
    double SeqMedianUs,
    double SeqP99Us,
    double SeqOpsPerSec,
    double Get1OpsPerSec,
    double GetNOpsPerSec,
    double SeqCpuUs,
    double Get1CpuUs,
    double GetNCpuUs)
{
    /// <summary>The best of several rounds, metric by metric (lowest latency and CPU, highest throughput).</summary>
    public static ZkRound Best(IReadOnlyList<ZkRound> rounds)
    {
        ArgumentNullException.ThrowIfNull(rounds);
        return new ZkRound(
            rounds.Min(r => r.SeqMedianUs),
            rounds.Min(r => r.SeqP99Us),
            rounds.Max(r => r.SeqOpsPerSec),
            rounds.Max(r => r.Get1OpsPerSec),
            rounds.Max(r => r.GetNOpsPerSec),
            rounds.Min(r => r.SeqCpuUs),
            rounds.Min(r => r.Get1CpuUs),
            rounds.Min(r => r.GetNCpuUs));
    }

    public override string ToString() => FormattableString.Invariant(
        $"create+delete median {SeqMedianUs:0} us, p99 {SeqP99Us:0} us; getData x1 {Get1OpsPerSec:0} ops/s, pipelined {GetNOpsPerSec:0} ops/s; CPU/op {SeqCpuUs:0.0}/{Get1CpuUs:0.0}/{GetNCpuUs:0.0} us");
}
