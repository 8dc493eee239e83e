namespace Pipeline.Bench.Reporting;

/// <summary>Percentiles of raw samples, nearest-rank (the same rule as bench/java/ZkBench.java).</summary>
public static class Percentiles
{
    /// <summary>The smallest sample with at least <paramref name="percent"/>% of the samples at or below it; 0 when empty.</summary>
    public static long Of(long[] sorted, double percent)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Length == 0)
        {
            return 0;
        }

        var rank = (int)Math.Ceiling(percent / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>Stopwatch ticks to microseconds.</summary>
    public static double Micros(long ticks) => ticks * 1_000_000.0 / System.Diagnostics.Stopwatch.Frequency;
}
