using System.Security.Authentication;
using MassTransit;
using RabbitMQ.Client;

namespace Pipeline.OrderService.Configuration;

/// <summary>How every part of the service reaches RabbitMQ (the bus, the topology declaration, the CLI verbs): one place for
/// credentials, TLS and heartbeat, so no connection is made differently from the others.</summary>
public static class RabbitMqConnection
{
    /// <summary>The MassTransit host: publisher confirms always on; TLS when <see cref="RabbitMqOptions.UseTls"/>.</summary>
    public static void ConfigureHost(this IRabbitMqBusFactoryConfigurator cfg, RabbitMqOptions rabbit)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        ArgumentNullException.ThrowIfNull(rabbit);
        cfg.Host(rabbit.Host, (ushort)rabbit.Port, rabbit.VirtualHost, h =>
        {
            h.Username(rabbit.Username);
            h.Password(rabbit.Password);
            h.PublisherConfirmation = true;
            if (rabbit.Heartbeat is { } heartbeat)
            {
                h.Heartbeat(heartbeat);
            }

            if (rabbit.UseTls)
            {
                h.UseSsl(s =>
                {
                    s.ServerName = rabbit.Host;
                    s.Protocol = SslProtocols.Tls12 | SslProtocols.Tls13;
                });
            }
        });
    }

    /// <summary>A RabbitMQ.Client connection factory with the same settings, named <paramref name="clientName"/> on the broker.</summary>
    public static ConnectionFactory Factory(RabbitMqOptions rabbit, string clientName)
    {
        ArgumentNullException.ThrowIfNull(rabbit);
        return new ConnectionFactory
        {
            HostName = rabbit.Host,
            Port = rabbit.Port,
            VirtualHost = rabbit.VirtualHost,
            UserName = rabbit.Username,
            Password = rabbit.Password,
            ClientProvidedName = clientName,
            Ssl = new SslOption { Enabled = rabbit.UseTls, ServerName = rabbit.Host, Version = SslProtocols.Tls12 | SslProtocols.Tls13 },
        };
    }
}
