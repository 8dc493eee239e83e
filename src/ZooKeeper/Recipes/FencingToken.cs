using System.Globalization;

namespace Pipeline.ZooKeeper.Recipes;

/// <summary>
/// A leader's fencing token: (generation, sequence), compared lexicographically. Generation is the election path's czxid,
/// sequence the leader's znode sequence number, read as the server's unsigned counter (so it keeps growing past
/// 2147483647, see <see cref="ElectionCandidate.ParseSequence"/>). Sequences restart when the path is re-created, but its
/// czxid is then larger, so tokens only ever grow.
/// </summary>
public readonly record struct FencingToken(long Generation, long Sequence) : IComparable<FencingToken>
{
    public int CompareTo(FencingToken other)
    {
        var byGeneration = Generation.CompareTo(other.Generation);
        return byGeneration != 0 ? byGeneration : Sequence.CompareTo(other.Sequence);
    }

    public static bool operator <(FencingToken left, FencingToken right) => left.CompareTo(right) < 0;

    public static bool operator >(FencingToken left, FencingToken right) => left.CompareTo(right) > 0;

    public static bool operator <=(FencingToken left, FencingToken right) => left.CompareTo(right) <= 0;

    public static bool operator >=(FencingToken left, FencingToken right) => left.CompareTo(right) >= 0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Generation}:{Sequence}");
}
