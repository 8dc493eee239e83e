using System.Globalization;

namespace Pipeline.Inventory.Commit;

/// <summary>A leader's token as the fence stores it: (generation, sequence), compared lexicographically. The election's
/// (czxid, sequence) maps onto it; this project knows nothing of ZooKeeper.</summary>
public readonly record struct FenceToken(long Generation, long Sequence) : IComparable<FenceToken>
{
    public int CompareTo(FenceToken other)
    {
        var byGeneration = Generation.CompareTo(other.Generation);
        return byGeneration != 0 ? byGeneration : Sequence.CompareTo(other.Sequence);
    }

    public static bool operator <(FenceToken left, FenceToken right) => left.CompareTo(right) < 0;

    public static bool operator >(FenceToken left, FenceToken right) => left.CompareTo(right) > 0;

    public static bool operator <=(FenceToken left, FenceToken right) => left.CompareTo(right) <= 0;

    public static bool operator >=(FenceToken left, FenceToken right) => left.CompareTo(right) >= 0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Generation}:{Sequence}");
}

/// <summary>A commit (or a fence acquisition) from a token older than one the fence has already seen: a deposed leader.
/// Nothing of the transaction was applied; the caller must stop committing and step down.</summary>
public sealed class StaleLeaderException : Exception
{
    public StaleLeaderException(FenceToken token, FenceToken current, string nodeId)
        : base($"Fenced off: {nodeId} committed with token {token}, but the fence has already seen {current}.")
    {
        Token = token;
        Current = current;
        NodeId = nodeId;
    }

    public StaleLeaderException()
    {
        NodeId = "";
    }

    public StaleLeaderException(string message)
        : base(message)
    {
        NodeId = "";
    }

    public StaleLeaderException(string message, Exception innerException)
        : base(message, innerException)
    {
        NodeId = "";
    }

    public FenceToken Token { get; }

    public FenceToken Current { get; }

    public string NodeId { get; }
}
