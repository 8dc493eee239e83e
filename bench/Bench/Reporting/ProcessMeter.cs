using System.Diagnostics;

namespace Pipeline.Bench.Reporting;

/// <summary>What one phase cost this process, per operation: CPU (all threads, JIT and GC included), bytes allocated,
/// thread-pool work items (each a hop between threads) and gen-0 collections. Our stand-in for dotnet-counters.</summary>
public sealed record PhaseCost(double CpuUsPerOp, double BytesPerOp, double PoolItemsPerOp, int Gen0Collections)
{
    public override string ToString() =>
        FormattableString.Invariant($"{CpuUsPerOp:0.0} us CPU, {BytesPerOp:0} B allocated, {PoolItemsPerOp:0.00} pool work items per op, {Gen0Collections} gen0 GCs");
}

/// <summary>Takes a <see cref="PhaseCost"/>: <c>var meter = ProcessMeter.Start(); ...; var cost = meter.Stop(ops);</c></summary>
public sealed class ProcessMeter
{
    private readonly TimeSpan cpu;
    private readonly long allocated;
    private readonly long poolItems;
    private readonly int gen0;

    private ProcessMeter(TimeSpan cpu, long allocated, long poolItems, int gen0)
    {
        this.cpu = cpu;
        this.allocated = allocated;
        this.poolItems = poolItems;
        this.gen0 = gen0;
    }

    public static ProcessMeter Start() =>
        new(Cpu(), GC.GetTotalAllocatedBytes(precise: false), ThreadPool.CompletedWorkItemCount, GC.CollectionCount(0));

    public PhaseCost Stop(int ops)
    {
        var n = Math.Max(1, ops);
        return new PhaseCost(
            (Cpu() - cpu).TotalMicroseconds / n,
            (GC.GetTotalAllocatedBytes(precise: false) - allocated) / (double)n,
            (ThreadPool.CompletedWorkItemCount - poolItems) / (double)n,
            GC.CollectionCount(0) - gen0);
    }

    private static TimeSpan Cpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }
}
