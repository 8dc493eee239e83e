using Pipeline.Testing;
using RabbitMQ.Client;

namespace Pipeline.OrderService.Tests.Cli;

/// <summary><c>publish</c> against a virtual host of its own with a queue bound to the orders' exchange, so what the broker
/// took is counted: exactly the orders asked for, Ctrl+C that stops cleanly with the ids of what was confirmed, and an
/// unreachable broker as one line.</summary>
public sealed class CliPublishTests(RabbitMqVirtualHost virtualHost) : IClassFixture<RabbitMqVirtualHost>
{
    /// <summary>MassTransit's exchange for OrderSubmitted (fanout, durable): what a storefront publishes to.</summary>
    private const string OrdersExchange = "Pipeline.Contracts:OrderSubmitted";

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Orders_given_as_name_equals_value_publishes_exactly_that_many()
    {
        var queue = await BindQueueAsync();
        var ids = Path.Combine(Path.GetTempPath(), $"cli-ids-{TestResourceNames.New()}.txt");
        try
        {
            await using var run = await CliProcess.RunAsync(Environment(), Limit, "publish", "--orders=5", "--prefix=cli-five", $"--ids-file={ids}");
            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Equal(5u, await MessageCountAsync(queue));
            var written = await File.ReadAllLinesAsync(ids);
            Assert.Equal(Enumerable.Range(0, 5).Select(i => $"cli-five-{i:0000000}"), written);
            Assert.Contains("published 5 of 5 orders", run.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(ids);
        }
    }

    [Fact]
    public async Task Ctrl_C_stops_publishing_and_writes_the_ids_of_what_was_confirmed()
    {
        var queue = await BindQueueAsync();
        var ids = Path.Combine(Path.GetTempPath(), $"cli-ids-{TestResourceNames.New()}.txt");
        try
        {
            await using var run = CliProcess.Start(Environment(), "publish", "--orders", "1000000", "--rate", "20", "--prefix", "cli-interrupted", "--ids-file", ids);
            await Eventually.TrueAsync(async () => await MessageCountAsync(queue) >= 10,
                TimeSpan.FromSeconds(60), $"ten orders in {queue} (the publisher says: {run.Stderr})");
            Signals.Send(run.Pid, Signals.Interrupt);
            var exitCode = await run.WaitForExitAsync(TimeSpan.FromSeconds(30));
            Assert.True(exitCode == 130, run.Describe());

            var written = await File.ReadAllLinesAsync(ids);
            var inQueue = await MessageCountAsync(queue);
            Assert.True(written.Length >= 10 && written.Length < 1_000_000, run.Describe());
            Assert.Equal((uint)written.Length, inQueue);
            Assert.Equal(Enumerable.Range(0, written.Length).Select(i => $"cli-interrupted-{i:0000000}"), written);
            Assert.Contains($"interrupted: published {written.Length} of 1000000 orders", run.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(ids);
        }
    }

    [Fact]
    public async Task An_unreachable_broker_is_one_line_and_exit_1()
    {
        var environment = Environment();
        environment["RabbitMq__Port"] = CliProcess.ClosedPort;
        environment["RabbitMq__Password"] = "a-password-never-printed";
        await using var run = await CliProcess.RunAsync(environment, Limit, "publish", "--orders", "5");
        Assert.True(run.ExitCode == 1, run.Describe());
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"RabbitMQ at 127.0.0.1:{CliProcess.ClosedPort}", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("a-password-never-printed", run.Stderr + run.Stdout, StringComparison.Ordinal);
    }

    /// <summary>The CLI's environment on this virtual host (the other services are not needed by publish).</summary>
    private Dictionary<string, string?> Environment()
    {
        var environment = CliProcess.NoServices();
        var user = virtualHost.AmqpUri.UserInfo.Split(':', 2);
        environment["RabbitMq__Host"] = virtualHost.AmqpUri.Host;
        environment["RabbitMq__Port"] = virtualHost.AmqpUri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["RabbitMq__VirtualHost"] = virtualHost.Name;
        environment["RabbitMq__Username"] = Uri.UnescapeDataString(user[0]);
        environment["RabbitMq__Password"] = Uri.UnescapeDataString(user[1]);
        return environment;
    }

    /// <summary>A queue of this test's own bound to the orders' exchange, declared as MassTransit declares it.</summary>
    private async Task<string> BindQueueAsync()
    {
        var queue = "cli-" + TestResourceNames.New();
        await using var connection = await new ConnectionFactory { Uri = virtualHost.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.ExchangeDeclareAsync(OrdersExchange, ExchangeType.Fanout, durable: true, autoDelete: false);
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync(queue, OrdersExchange, "");
        return queue;
    }

    private async Task<uint> MessageCountAsync(string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = virtualHost.AmqpUri }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
    }
}
