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

/// <summary>A live election node: its znode name, sequence, owning session and what it says about itself (null if unreadable).</summary>
public sealed record ElectionNode(string Name, long Sequence, long SessionId, CandidateInfo? Info);

[JsonSerializable(typeof(CandidateInfo))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class CandidateInfoJson : JsonSerializerContext;
