using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Messaging;

namespace Pipeline.OrderService.Tests.Configuration;

/// <summary>How a replica reads its settings where platforms put them: secret files, ASP.NET Core's own port variables,
/// amqps URIs; and what it refuses to run without. No service is needed.</summary>
public sealed class ServiceSettingsTests
{
    [Fact]
    public void A_secret_file_named_after_a_setting_is_that_setting_and_the_command_line_still_wins()
    {
        var directory = Directory.CreateTempSubdirectory("pipeline-secrets-");
        try
        {
            File.WriteAllText(Path.Combine(directory.FullName, "ConnectionStrings__Inventory"), "Host=from-the-file");
            File.WriteAllText(Path.Combine(directory.FullName, "RabbitMq__Password"), "file-password");
            var builder = new ConfigurationBuilder();
            builder.AddPipelineSources(["--RabbitMq:Password=command-line"], directory.FullName);
            var configuration = builder.Build();

            Assert.Equal("Host=from-the-file", configuration.InventoryConnectionString());
            Assert.Equal("command-line", configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>()!.Password);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_secrets_directory_defaults_to_run_secrets() =>
        Assert.Equal(Environment.GetEnvironmentVariable(ServiceConfiguration.SecretsDirectoryVariable) is { Length: > 0 } d ? d : "/run/secrets", ServiceConfiguration.SecretsDirectory);

    [Theory]
    [InlineData("amqps://svc:pw@broker.example:5671/shop", true, 5671, "shop")]
    [InlineData("amqps://svc:pw@broker.example/shop", true, 5671, "shop")]
    [InlineData("amqp://svc:pw@broker.example/", false, 5672, "/")]
    public void An_amqps_uri_turns_tls_on(string uri, bool tls, int port, string virtualHost)
    {
        var options = new RabbitMqOptions();
        options.ApplyUri(new Uri(uri));
        Assert.Equal((tls, port, virtualHost, "svc", "pw"), (options.UseTls, options.Port, options.VirtualHost, options.Username, options.Password));
        Assert.Equal(tls, RabbitMqConnection.Factory(options, "test").Ssl.Enabled);
    }

    [Theory]
    [InlineData(null, null, "9090", "http://127.0.0.1:9090/health/ready", "http://0.0.0.0:9090")]
    [InlineData("8081", null, "9090", "http://127.0.0.1:8081/health/ready", null)]
    [InlineData(null, "http://+:8082;https://+:8443", "9090", "http://127.0.0.1:8082/health/ready", null)]
    [InlineData(null, "https://*:8443", "9090", "https://127.0.0.1:8443/health/ready", null)]
    public void AspNetCore_port_settings_win_and_the_health_check_follows_them(string? httpPorts, string? urls, string pipelinePort, string readiness, string? listen)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ASPNETCORE_HTTP_PORTS"] = httpPorts,
            ["ASPNETCORE_URLS"] = urls,
            ["Pipeline:HttpPort"] = pipelinePort,
        }).Build();
        var pipeline = configuration.GetSection(PipelineOptions.Section).Get<PipelineOptions>()!;

        Assert.Equal(new Uri(readiness), HttpEndpoint.LocalReadiness(configuration));
        Assert.Equal(listen, HttpEndpoint.DefaultUrls(configuration, pipeline));
    }

    [Theory]
    [InlineData(null, null, false, "ZooKeeper:DigestUser and ZooKeeper:DigestPassword are required")]
    [InlineData("svc", null, false, "ZooKeeper:DigestPassword is required")]
    [InlineData("s:vc", "pw", false, "must not contain ':'")]
    [InlineData(null, null, true, null)]
    [InlineData("svc", "pw", false, null)]
    public void The_election_runs_with_an_identity_unless_an_open_path_is_chosen_explicitly(string? user, string? password, bool allowOpen, string? problem)
    {
        var options = new ZooKeeperOptions { DigestUser = user, DigestPassword = password, AllowOpenElectionPath = allowOpen };
        if (problem is null)
        {
            Assert.Null(options.IdentityProblem());
        }
        else
        {
            Assert.Contains(problem, options.IdentityProblem(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_bus_reports_no_usage_telemetry()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPipelineMessaging(new RabbitMqOptions(), new PipelineOptions());
        using var provider = services.BuildServiceProvider();
        Assert.False(provider.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value.Enabled);
    }
}
