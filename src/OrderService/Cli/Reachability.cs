using System.Net.Sockets;
using Npgsql;
using Pipeline.OrderService.Configuration;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Pipeline.OrderService.Cli;

/// <summary>A failure the CLI reports as one line on stderr with exit code 1: what could not be used, where, and why. Never
/// carries a password: the places are host:port, database, virtual host and user names. An <see cref="InvalidOperationException"/>,
/// so hosts that report those (the test replica host) report it too.</summary>
internal sealed class CliFailureException(string message, Exception? innerException = null) : InvalidOperationException(message, innerException);

/// <summary>Reaches each service once before a verb works with it, so an unreachable or refused service is one line that
/// names it, where it was looked for and the setting that says so, instead of a stack trace or a retry loop.</summary>
internal static class Reachability
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Opens one connection with <paramref name="connectionString"/> (setting <paramref name="setting"/>).</summary>
    public static async Task PostgresAsync(string connectionString, string setting, CancellationToken cancellationToken)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString) { Timeout = (int)ConnectTimeout.TotalSeconds };
        }
        catch (ArgumentException ex)
        {
            throw new CliFailureException($"{setting} is not a valid PostgreSQL connection string: {ex.Message}", ex);
        }

        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or SocketException or TimeoutException or ArgumentException && !cancellationToken.IsCancellationRequested)
        {
            throw new CliFailureException($"cannot reach PostgreSQL at {PostgresPlace(builder, setting)}: {OneLine(ex)}", ex);
        }
    }

    /// <summary>Opens one AMQP connection as the bus would, then closes it.</summary>
    public static async Task RabbitMqAsync(RabbitMqOptions rabbit, CancellationToken cancellationToken)
    {
        var factory = RabbitMqConnection.Factory(rabbit, "pipeline-cli");
        factory.RequestedConnectionTimeout = ConnectTimeout;
        factory.AutomaticRecoveryEnabled = false;
        try
        {
            await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        }
        catch (Exception ex) when (IsRabbitMqFailure(ex) && !cancellationToken.IsCancellationRequested)
        {
            throw new CliFailureException($"cannot reach RabbitMQ at {RabbitMqPlace(rabbit)}: {OneLine(ex)}", ex);
        }
    }

    /// <summary>True for what RabbitMQ.Client throws when the broker cannot be reached or refuses the connection.</summary>
    public static bool IsRabbitMqFailure(Exception exception) =>
        exception is BrokerUnreachableException or AuthenticationFailureException or OperationInterruptedException or AlreadyClosedException
            or SocketException or IOException or TimeoutException;

    /// <summary>Where the broker is looked for, without the password.</summary>
    public static string RabbitMqPlace(RabbitMqOptions rabbit)
    {
        ArgumentNullException.ThrowIfNull(rabbit);
        return $"{rabbit.Host}:{rabbit.Port} (virtual host {rabbit.VirtualHost}, user {rabbit.Username}; RabbitMq:Host, RabbitMq:Port)";
    }

    /// <summary>A ZooKeeper session with <paramref name="zk"/>'s ensemble and identity.</summary>
    public static async Task<ZooKeeperClient> ZooKeeperAsync(ZooKeeperOptions zk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(zk);
        try
        {
            return await ZooKeeperClient.ConnectAsync(zk.ToClientOptions(), cancellationToken);
        }
        catch (Exception ex) when (ex is KeeperException or ArgumentException or SocketException && !cancellationToken.IsCancellationRequested)
        {
            throw new CliFailureException($"cannot reach ZooKeeper at {zk.ConnectString} (ZooKeeper:ConnectString): {OneLine(ex)}", ex);
        }
    }

    /// <summary>An exception's message on one line: the outermost, and the innermost when it says something else.</summary>
    public static string OneLine(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var outer = Flatten(exception.Message);
        var inner = Flatten(exception.GetBaseException().Message);
        return outer.Contains(inner, StringComparison.Ordinal) ? outer : $"{outer} ({inner})";
    }

    private static string Flatten(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string PostgresPlace(NpgsqlConnectionStringBuilder builder, string? setting) =>
        $"{builder.Host ?? "localhost"}:{builder.Port} (database {builder.Database ?? "(default)"}, user {builder.Username ?? "(default)"}{(setting is null ? "" : "; " + setting)})";
}
