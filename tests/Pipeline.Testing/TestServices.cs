namespace Pipeline.Testing;

/// <summary>
/// The one place tests get the real services from, resolved once per test process:
/// <list type="number">
/// <item>the <c>PIPELINE_ZOOKEEPER</c>, <c>PIPELINE_RABBITMQ</c>, <c>PIPELINE_RABBITMQ_MANAGEMENT</c> and <c>PIPELINE_POSTGRES</c> variables
/// (what <c>./test</c> exports from <c>scripts/services env</c>);</item>
/// <item>otherwise, where a Docker engine answers, containers started with Testcontainers;</item>
/// <item>otherwise a failure that says to run <c>scripts/services up</c>. Never a silent skip.</item>
/// </list>
/// Per-class isolation sits on top: <see cref="PostgresDatabase"/>, <see cref="RabbitMqVirtualHost"/>.
/// </summary>
public static class TestServices
{
    public const string ZooKeeperVariable = "PIPELINE_ZOOKEEPER";
    public const string RabbitMqVariable = "PIPELINE_RABBITMQ";
    public const string RabbitMqManagementVariable = "PIPELINE_RABBITMQ_MANAGEMENT";
    public const string PostgresVariable = "PIPELINE_POSTGRES";

    private static readonly Lazy<Task<ServiceEndpoints>> Endpoints = new(ResolveAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The services of this test run; starts containers on first use where that is the way to get them.</summary>
    public static Task<ServiceEndpoints> GetAsync() => Endpoints.Value;

    private static async Task<ServiceEndpoints> ResolveAsync()
    {
        var zk = Environment.GetEnvironmentVariable(ZooKeeperVariable);
        var rabbit = Environment.GetEnvironmentVariable(RabbitMqVariable);
        var management = Environment.GetEnvironmentVariable(RabbitMqManagementVariable);
        var postgres = Environment.GetEnvironmentVariable(PostgresVariable);
        string?[] given = [zk, rabbit, management, postgres];

        if (given.All(v => !string.IsNullOrWhiteSpace(v)))
        {
            return new ServiceEndpoints(zk!, new Uri(rabbit!), new Uri(management!), postgres!, "environment");
        }

        if (given.Any(v => !string.IsNullOrWhiteSpace(v)))
        {
            throw new InvalidOperationException(
                $"Only some of {ZooKeeperVariable}, {RabbitMqVariable}, {RabbitMqManagementVariable} and {PostgresVariable} are set. " +
                "Set all of them (eval \"$(scripts/services env)\") or none.");
        }

        if (await DockerEngine.IsAvailableAsync().ConfigureAwait(false))
        {
            return await ContainerServices.StartAsync().ConfigureAwait(false);
        }

        throw new InvalidOperationException(
            $"No services for the tests: {ZooKeeperVariable}, {RabbitMqVariable}, {RabbitMqManagementVariable} and {PostgresVariable} are not set " +
            "and no Docker engine answers. Run `scripts/services up` and `eval \"$(scripts/services env)\"`, or simply `./test`, which does both.");
    }
}
