using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.ZooKeeper.Recipes;

/// <summary>What a candidate writes into its election node: who it is, for <c>status</c> and operators.</summary>
public sealed record CandidateInfo
{
    public required string NodeId { get; init; }

    public required string Host { get; init; }

    public required int Pid { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required string Version { get; init; }

    public static CandidateInfo ForThisProcess(string nodeId, string version) => new()
    {
        NodeId = nodeId,
        Host = Environment.MachineName,
        Pid = Environment.ProcessId,
        StartedAt = DateTimeOffset.UtcNow,
        Version = version,
    };

    internal byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, CandidateInfoJson.Default.CandidateInfo);

    internal static CandidateInfo? TryParse(byte[] data)
    {
        try
        {
            return JsonSerializer.Deserialize(data, CandidateInfoJson.Default.CandidateInfo);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>A node in the election path: its znode name, sequence, owning session (0 when it has none) and what it says about
/// itself (null if unreadable).</summary>
public sealed record ElectionNode(string Name, long Sequence, long SessionId, CandidateInfo? Info)
{
    /// <summary>Only ephemeral nodes are candidates. A node named like one that is not ephemeral (created by someone else
    /// where the path's ACL allows it) is foreign: the election ignores it.</summary>
    public bool IsEphemeral => IsEphemeralOwner(SessionId);

    /// <summary>True for a Stat's ephemeralOwner that is a session: not 0 (persistent), not Long.MinValue (container), not
    /// with the high byte 0xFF (TTL nodes, when the server has extended types on; such a server has no server id 255).</summary>
    internal static bool IsEphemeralOwner(long owner) => owner != 0 && owner != long.MinValue && (ulong)owner >> 56 != 0xFF;
}

[JsonSerializable(typeof(CandidateInfo))]
[JsonSerializable(typeof(SuccessionMarker))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class CandidateInfoJson : JsonSerializerContext;
