# Trained by dpi 0.1.0 from 1331 captures against ndpi; support n = training flows matched
# dpi-train: source=trained:ndpi precision=1 tp=8 fp=0
Service: DHCP            udp port 68    n =    10 src = "02010600"
# dpi-train: source=trained:ndpi precision=1 tp=2 fp=0
Service: DNP3            tcp port 20000 n =    28 dst = "0564  44"
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: DNS             tcp port 53    n =     7 src = "        01200001000000000001"
# dpi-train: source=trained:ndpi precision=1 tp=10 fp=0
Service: DNS             udp port 53    n =   120 src = "    010000            0004"
# dpi-train: source=trained:ndpi precision=1 tp=24 fp=0
Service: DNS             udp port 53    n =    70 src = "    012000010000000000"
# dpi-train: source=trained:ndpi precision=1 tp=12 fp=0
Service: Dropbox         udp port 17500 n =    22 src = "7B22"
# dpi-train: source=trained:ndpi precision=1 tp=45 fp=0
Service: FTP_CONTROL     tcp port 21    n =    45 src = "5553455220"
# dpi-train: source=trained:ndpi precision=1 tp=12 fp=0
Service: HTTP            tcp port 80    n =    92 dst = "        2F312E  203230        0D0A5365727665723A20"
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: Jabber          tcp port 5223  n =     6 src = "2500451404"
# dpi-train: source=trained:ndpi precision=1 tp=79 fp=0
Service: LLMNR           udp port 5355  n =    79 src = "    00000001000000000000"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: NTP             udp port 123   n =    34 src = "        00  00                  000000000000"
# dpi-train: source=trained:ndpi precision=1 tp=9 fp=0
Service: NTP             udp port 123   n =    33 src = "            000000      0000000000000000000000000000000000000000"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: Nats            tcp port 6379  n =     8 src = "50494E470D0A"
# dpi-train: source=trained:ndpi precision=1 tp=5 fp=0
Service: POP3            tcp port 110   n =    11 dst = "2B4F4B20504F50207365727665722072656164792048206D69"
# dpi-train: source=trained:ndpi precision=1 tp=2 fp=0
Service: SOCKS           tcp port 1080  n =     7 src = "05020001050100"
# dpi-train: source=trained:ndpi precision=1 tp=1 fp=0
Service: SSH             tcp port 22    n =    17 dst = "5353482D322E302D4F70656E5353485F          00"
# dpi-train: source=trained:ndpi precision=1 tp=2 fp=0
Service: Service_Location_Protocol udp port 427   n =   603 src = "02  0000    00000000"
# dpi-train: source=trained:ndpi precision=1 tp=4 fp=0
Service: Spotify         udp port 57621 n =    12 src = "53706F7455647030"
# dpi-train: source=trained:ndpi precision=1 tp=469 fp=0
Service: TLS             tcp port 443   n =   818 src = "1603      0100"
# dpi-train: source=trained:ndpi precision=1 tp=7 fp=0
Service: TLS             tcp port 443   n =    22 src = "17030300"
# dpi-train: source=trained:ndpi precision=1 tp=133 fp=0
Service: TLS             tcp port 443   n =   762 dst = "1603      0200"
