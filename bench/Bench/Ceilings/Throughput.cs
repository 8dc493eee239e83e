using System.Globalization;

namespace Pipeline.Bench.Ceilings;

/// <summary>One throughput measurement: how many messages (or orders) in how many seconds.</summary>
public sealed record Throughput(string Name, long Count, double Seconds)
{
    public double PerSecond => Seconds > 0 ? Count / Seconds : 0;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Name}: {Count} in {Seconds:0.00} s = {PerSecond:0} /s");
}
