using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Containers;
using Testcontainers.PostgreSql;
using Testcontainers.RabbitMq;

namespace Pipeline.Testing;

/// <summary>
/// The services as containers, for machines with a Docker engine and no <c>PIPELINE_*</c> variables.
/// Started once per test process; Testcontainers' reaper removes them when the process ends.
/// </summary>
internal static class ContainerServices
{
    public static async Task<ServiceEndpoints> StartAsync()
    {
        var postgres = new PostgreSqlBuilder("postgres:15")
            .WithUsername("pipeline").WithPassword("pipeline").WithDatabase("pipeline")
            .WithCommand("-c", "max_connections=300")
            .Build();
        var rabbit = new RabbitMqBuilder("rabbitmq:3.10-management")
            .WithUsername("pipeline").WithPassword("pipeline")
            .WithPortBinding(15672, true)
            .Build();
        var zookeeper = new ContainerBuilder("zookeeper:3.8")
            .WithEnvironment("ZOO_4LW_COMMANDS_WHITELIST", "ruok,srvr")
            .WithEnvironment("ZOO_TICK_TIME", "500")
            .WithPortBinding(2181, true)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilMessageIsLogged("binding to port"))
            .Build();

        await Task.WhenAll(postgres.StartAsync(), rabbit.StartAsync(), zookeeper.StartAsync()).ConfigureAwait(false);

        var management = new UriBuilder("http", rabbit.Hostname, rabbit.GetMappedPublicPort(15672)) { UserName = "pipeline", Password = "pipeline" }.Uri;
        return new ServiceEndpoints(
            $"{zookeeper.Hostname}:{zookeeper.GetMappedPublicPort(2181)}",
            new Uri(rabbit.GetConnectionString()),
            management,
            postgres.GetConnectionString(),
            "testcontainers");
    }
}
