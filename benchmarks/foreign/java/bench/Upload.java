package bench;

import javax.activation.DataHandler;
import javax.xml.bind.annotation.XmlAccessType;
import javax.xml.bind.annotation.XmlAccessorType;
import javax.xml.bind.annotation.XmlElement;
import javax.xml.bind.annotation.XmlMimeType;
import javax.xml.bind.annotation.XmlRootElement;
import javax.xml.bind.annotation.XmlType;

/** The request wrapper (Debian's Metro cannot generate wrapper beans at run time). */
@XmlRootElement(name = "Upload", namespace = Bench.NS)
@XmlAccessorType(XmlAccessType.FIELD)
@XmlType(name = "Upload", namespace = Bench.NS, propOrder = {"name", "data"})
public class Upload {
    @XmlElement(name = "name", namespace = Bench.NS)
    public String name;
    @XmlElement(name = "data", namespace = Bench.NS)
    @XmlMimeType("application/octet-stream")
    public DataHandler data;
}
