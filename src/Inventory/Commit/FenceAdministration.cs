using Npgsql;

namespace Pipeline.Inventory.Commit;

/// <summary>A fence row as stored: the newest token it has seen, who brought it and when.</summary>
public sealed record FenceRow(string Resource, FenceToken Token, string Holder, DateTimeOffset UpdatedAt);

/// <summary>
/// The operator's side of the fence: reading it, and the audited reset that moves it to a token of the current election
/// when it holds a token no candidate can reach (the ZooKeeper ensemble rebuilt from empty data, the election path moved).
/// The reset is the one write that may lower the fence, so it checks that the row still holds what the operator saw, runs
/// while holding the row lock (no commit is in flight meanwhile) and writes its audit row in the same transaction.
/// </summary>
public sealed class FenceAdministration(NpgsqlDataSource dataSource)
{
    public async Task<FenceRow> ReadAsync(string resource, CancellationToken cancellationToken = default)
    {
        var command = dataSource.CreateCommand("SELECT generation, sequence, holder, updated_at FROM leader_fence WHERE resource = $1");
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = resource });
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                    ? new FenceRow(resource, new FenceToken(reader.GetInt64(0), reader.GetInt64(1)), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3))
                    : throw new InvalidOperationException($"The fence row '{resource}' does not exist in leader_fence: run migrate.");
            }
        }
    }

    /// <summary>Moves the fence from <paramref name="expected"/> to <paramref name="target"/> and audits it in fence_resets;
    /// false (nothing written) when the row no longer holds <paramref name="expected"/>.</summary>
    public async Task<bool> ResetAsync(string resource, FenceToken expected, FenceToken target, string operatorName, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(operatorName);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var command = dataSource.CreateCommand(
            "WITH moved AS (UPDATE leader_fence SET generation = $4, sequence = $5, holder = $6, updated_at = now() " +
            "WHERE resource = $1 AND generation = $2 AND sequence = $3 RETURNING resource) " +
            "INSERT INTO fence_resets (resource, operator, from_generation, from_sequence, to_generation, to_sequence, reason) " +
            "SELECT resource, $7, $2, $3, $4, $5, $8 FROM moved");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = resource });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expected.Generation });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = expected.Sequence });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = target.Generation });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = target.Sequence });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"fence-reset by {operatorName}" });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = operatorName });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = reason });
        await using (command.ConfigureAwait(false))
        {
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
        }
    }
}
