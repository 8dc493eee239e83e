using MassTransit;
using Microsoft.Extensions.Configuration;
using Pipeline.OrderService.Configuration;

namespace Pipeline.OrderService.Cli;

/// <summary>A bare MassTransit bus for the CLI verbs that publish or listen (same serializer and topology as the service).</summary>
internal static class BusFactory
{
    public static IBusControl Create(IConfiguration configuration, Action<IRabbitMqBusFactoryConfigurator>? configure = null)
    {
        var rabbit = configuration.GetSection(RabbitMqOptions.Section).Get<RabbitMqOptions>() ?? new RabbitMqOptions();
        return Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.ConfigureHost(rabbit);
            configure?.Invoke(cfg);
        });
    }
}
