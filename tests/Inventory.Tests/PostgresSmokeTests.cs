using Npgsql;
using Pipeline.Testing;

namespace Pipeline.Inventory.Tests;

/// <summary>The PostgreSQL the tests use is real, and every test class has a database of its own.</summary>
public sealed class PostgresSmokeTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_transaction_commits_in_this_class_database()
    {
        await using var connection = await database.OpenConnectionAsync();
        Assert.Equal(database.Name, connection.Database);

        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await Execute(connection, "CREATE TABLE smoke(id int primary key, note text)", transaction);
            await Execute(connection, "INSERT INTO smoke VALUES (1, 'committed')", transaction);
            await transaction.CommitAsync();
        }

        await using (var rolledBack = await connection.BeginTransactionAsync())
        {
            await Execute(connection, "INSERT INTO smoke VALUES (2, 'rolled back')", rolledBack);
            await rolledBack.RollbackAsync();
        }

        await using var count = new NpgsqlCommand("SELECT string_agg(note, ',') FROM smoke", connection);
        Assert.Equal("committed", await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Another_class_database_does_not_see_this_one_tables()
    {
        await using (var mine = await database.OpenConnectionAsync())
        {
            await Execute(mine, "CREATE TABLE IF NOT EXISTS only_here(id int)");
        }

        var other = new PostgresDatabase();
        await other.InitializeAsync();
        try
        {
            await using var theirs = await other.OpenConnectionAsync();
            await using var probe = new NpgsqlCommand("SELECT to_regclass('only_here') IS NULL", theirs);
            Assert.Equal(true, await probe.ExecuteScalarAsync());
        }
        finally
        {
            await other.DisposeAsync();
        }

        await using var admin = new NpgsqlConnection(database.ServerConnectionString);
        await admin.OpenAsync();
        await using var gone = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = @n", admin);
        gone.Parameters.AddWithValue("n", other.Name);
        Assert.Equal(0L, await gone.ExecuteScalarAsync());
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync();
    }
}
