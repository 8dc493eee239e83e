using Npgsql;
using Pipeline.Inventory.Commit;

namespace Pipeline.Inventory.Status;

/// <summary>The election history every replica shares: a new leader writes its succession once the fence holds its token,
/// so a dashboard on any replica shows who led when and why, even leaderships it never saw.</summary>
public sealed class LeaderSuccessions(NpgsqlDataSource dataSource)
{
    public async Task RecordAsync(string resource, FenceToken token, string nodeId, string cause, string? previous, CancellationToken cancellationToken = default)
    {
        var command = dataSource.CreateCommand(
            "INSERT INTO leader_successions (resource, node_id, generation, sequence, cause, previous) VALUES ($1, $2, $3, $4, $5, $6)");
        await using var scope = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = resource });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = nodeId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = token.Generation });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = token.Sequence });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = cause });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)previous ?? DBNull.Value });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
