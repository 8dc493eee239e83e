using Microsoft.Extensions.Configuration;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Tests.Telemetry;

/// <summary>Where a replica sends traces and metrics over OTLP: the setting, else the standard variable, else nowhere.</summary>
public sealed class OtlpSettingTests
{
    [Fact]
    public void The_setting_names_the_endpoint_and_wins_over_the_standard_variable()
    {
        var target = TelemetrySetup.OtlpEndpoint(Configuration((TelemetrySetup.OtlpEndpointSetting, "http://collector:4317"), (TelemetrySetup.OtlpEndpointVariable, "http://other:4318")));
        Assert.True(target.Enabled);
        Assert.Equal(new Uri("http://collector:4317"), target.Endpoint);
    }

    [Fact]
    public void The_standard_variable_alone_leaves_the_endpoint_to_the_exporter()
    {
        var target = TelemetrySetup.OtlpEndpoint(Configuration((TelemetrySetup.OtlpEndpointVariable, "http://collector:4318")));
        Assert.True(target.Enabled);
        Assert.Null(target.Endpoint);
    }

    [Fact]
    public void Without_either_nothing_goes_over_OTLP() => Assert.False(TelemetrySetup.OtlpEndpoint(Configuration()).Enabled);

    [Fact]
    public void An_endpoint_that_is_no_absolute_URI_stops_the_start_with_the_settings_name()
    {
        var refused = Assert.Throws<InvalidOperationException>(() => TelemetrySetup.OtlpEndpoint(Configuration((TelemetrySetup.OtlpEndpointSetting, "collector:4317 "))));
        Assert.Contains(TelemetrySetup.OtlpEndpointSetting, refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(OpenTelemetry.Exporter.OtlpExportProtocol.Grpc, "http://collector:4317/")]
    [InlineData(OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf, "http://collector:4317/v1/traces")]
    public void Over_http_the_signals_path_is_appended_as_for_the_standard_variable(OpenTelemetry.Exporter.OtlpExportProtocol protocol, string expected)
    {
        var options = new OpenTelemetry.Exporter.OtlpExporterOptions { Protocol = protocol };
        TelemetrySetup.OtlpEndpoint(Configuration((TelemetrySetup.OtlpEndpointSetting, "http://collector:4317"))).Apply(options, "v1/traces");
        Assert.Equal(new Uri(expected), options.Endpoint);
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();
}
